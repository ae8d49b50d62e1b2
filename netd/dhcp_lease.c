/* DHCP leases through netd's hook script (see dhcp_lease.h). */
#include "netd/dhcp_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One script for udhcpc ($1 is the event) and dhclient/dhcpcd ($reason).  The lease file
 * is written to a temporary name and renamed, so netd never reads half of it. */
static const char script[] =
    "#!/bin/sh\n"
    "# Written by netd: the DHCP client's hook (netd/dhcp_lease.h).\n"
    "lease=\"$(dirname \"$0\")/dhcp-$interface.lease\"\n"
    "if [ -n \"$reason\" ]; then\n"
    "  case \"$reason\" in\n"
    "    BOUND|REBOOT) ev=bound ;;\n"
    "    RENEW|REBIND) ev=renew ;;\n"
    "    EXPIRE|FAIL|RELEASE|STOP|NOCARRIER) ev=deconfig ;;\n"
    "    *) exit 0 ;;\n"
    "  esac\n"
    "  ip=\"$new_ip_address\"; mask=\"$new_subnet_mask\"; router=\"$new_routers\"\n"
    "  dns=\"$new_domain_name_servers\"\n"
    "else\n"
    "  case \"$1\" in\n"
    "    bound) ev=bound ;;\n"
    "    renew) ev=renew ;;\n"
    "    deconfig|leasefail|nak) ev=deconfig ;;\n"
    "    *) exit 0 ;;\n"
    "  esac\n"
    "  mask=\"$subnet\"\n"
    "fi\n"
    "router=\"${router%% *}\"\n"
    "if [ \"$ev\" = deconfig ]; then\n"
    "  ip -4 addr flush dev \"$interface\"\n"
    "  rm -f \"$lease\"\n"
    "  exit 0\n"
    "fi\n"
    "[ \"$ev\" = bound ] && ip -4 addr flush dev \"$interface\"\n"
    "ip -4 addr replace \"$ip/$mask\" dev \"$interface\" || exit 1\n"
    "[ -n \"$router\" ] && ip -4 route replace default via \"$router\" dev \"$interface\"\n"
    "printf 'ip=%s\\nnetmask=%s\\ngateway=%s\\ndns=%s\\n' \"$ip\" \"$mask\" \"$router\" "
    "\"$dns\" > \"$lease.tmp\" && mv \"$lease.tmp\" \"$lease\"\n";

int dhcp_script_install(const char *rundir, char *path, size_t len)
{
        if ((size_t)snprintf(path, len, "%s/" DHCP_SCRIPT_NAME, rundir ? rundir : "/run") >= len)
                return -ENAMETOOLONG;
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (fd < 0)
                return -errno;
        ssize_t w = write(fd, script, sizeof(script) - 1);
        int e = errno;
        close(fd);
        if (w != (ssize_t)(sizeof(script) - 1) || rename(tmp, path) < 0) {
                e = w < 0 ? e : w != (ssize_t)(sizeof(script) - 1) ? EIO : errno;
                unlink(tmp);
                return -e;
        }
        return 0;
}

void dhcp_lease_path(const char *rundir, const char *ifname, char *path, size_t len)
{
        snprintf(path, len, "%s/dhcp-%s.lease", rundir ? rundir : "/run", ifname);
}

static void copy(char *dst, size_t len, const char *v, size_t n)
{
        snprintf(dst, len, "%.*s", (int)n, v);
}

void dhcp_lease_parse(const char *text, struct dhcp_lease *out)
{
        memset(out, 0, sizeof(*out));
        for (const char *l = text; l && *l;) {
                const char *end = strchrnul(l, '\n');
                const char *eq = memchr(l, '=', (size_t)(end - l));
                if (eq != NULL) {
                        size_t klen = (size_t)(eq - l), vlen = (size_t)(end - eq - 1);
                        const char *v = eq + 1;
                        if (klen == 2 && strncmp(l, "ip", 2) == 0)
                                copy(out->ip, sizeof(out->ip), v, vlen);
                        else if (klen == 7 && strncmp(l, "netmask", 7) == 0)
                                copy(out->netmask, sizeof(out->netmask), v, vlen);
                        else if (klen == 7 && strncmp(l, "gateway", 7) == 0)
                                copy(out->gateway, sizeof(out->gateway), v, vlen);
                        else if (klen == 3 && strncmp(l, "dns", 3) == 0) {
                                /* blank-separated servers */
                                const char *p = v, *stop = v + vlen;
                                while (p < stop && out->n_dns < DHCP_MAX_DNS) {
                                        while (p < stop && (*p == ' ' || *p == ','))
                                                p++;
                                        const char *q = p;
                                        while (q < stop && *q != ' ' && *q != ',')
                                                q++;
                                        if (q > p)
                                                copy(out->dns[out->n_dns++], 64, p,
                                                     (size_t)(q - p));
                                        p = q;
                                }
                        }
                }
                l = *end ? end + 1 : end;
        }
        out->bound = out->ip[0] != '\0';
}

void dhcp_lease_read(const char *rundir, const char *ifname, struct dhcp_lease *out)
{
        char path[4096], buf[2048];
        dhcp_lease_path(rundir, ifname, path, sizeof(path));
        memset(out, 0, sizeof(*out));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return;
        buf[n] = '\0';
        dhcp_lease_parse(buf, out);
}

bool dhcp_lease_equal(const struct dhcp_lease *a, const struct dhcp_lease *b)
{
        if (a->bound != b->bound || a->n_dns != b->n_dns || strcmp(a->ip, b->ip) ||
            strcmp(a->netmask, b->netmask) || strcmp(a->gateway, b->gateway))
                return false;
        for (size_t i = 0; i < a->n_dns; i++)
                if (strcmp(a->dns[i], b->dns[i]) != 0)
                        return false;
        return true;
}
