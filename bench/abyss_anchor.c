/* The benchmark anchor: an xmlrpc-c (Abyss) server answering one trivial method, so
 * xapid's request rate can be compared with a widely used C XML-RPC server in the same run.
 * Usage: abyss_anchor PORT   (serves "VM.get_record" returning a small struct) */
#include <stdio.h>
#include <stdlib.h>
#include <xmlrpc-c/base.h>
#include <xmlrpc-c/server.h>
#include <xmlrpc-c/server_abyss.h>

static xmlrpc_value *get_record(xmlrpc_env *env, xmlrpc_value *params, void *server_info,
                                void *channel_info)
{
        return xmlrpc_build_value(env, "{s:s,s:s}", "Status", "Success", "Value", "trivial");
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: %s PORT\n", argv[0]);
                return 2;
        }
        xmlrpc_env env;
        xmlrpc_env_init(&env);
        xmlrpc_registry *reg = xmlrpc_registry_new(&env);
        struct xmlrpc_method_info3 mi = {.methodName = "VM.get_record",
                                         .methodFunction = get_record};
        xmlrpc_registry_add_method3(&env, reg, &mi);
        xmlrpc_server_abyss_parms p = {0};
        p.config_file_name = NULL;
        p.registryP = reg;
        p.port_number = (unsigned)atoi(argv[1]);
        p.log_file_name = NULL;
        p.keepalive_timeout = 30;
        p.keepalive_max_conn = 1000000;
        xmlrpc_server_abyss(&env, &p, XMLRPC_APSIZE(keepalive_max_conn));
        if (env.fault_occurred) {
                fprintf(stderr, "abyss: %s\n", env.fault_string);
                return 1;
        }
        return 0;
}
