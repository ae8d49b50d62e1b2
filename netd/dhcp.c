/* Running the system's DHCP client for an interface (see dhcp.h). */
#include "netd/dhcp.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "netd/dhcp_lease.h"

LOG_MODULE(dhcp)

struct dhcp_client {
        pid_t pid; /* 0 once reaped */
        enum dhcp_client_kind kind;
        char ifname[IFNAMSIZ];
};

static const char *const client_names[] = {"dhclient", "udhcpc", "dhcpcd"};

const char *dhcp_client_name(enum dhcp_client_kind kind)
{
        return (unsigned)kind < 3 ? client_names[kind] : "?";
}

static bool find_in(const char *dirs, const char *prog, char *path, size_t len)
{
        const char *p = dirs;
        while (p && *p) {
                const char *end = strchrnul(p, ':');
                int n = snprintf(path, len, "%.*s/%s", (int)(end - p), p, prog);
                if (end > p && n > 0 && (size_t)n < len && access(path, X_OK) == 0)
                        return true;
                p = *end ? end + 1 : end;
        }
        return false;
}

int dhcp_find_client(char *path, size_t len, enum dhcp_client_kind *kind)
{
        const char *env = getenv("PATH");
        for (int k = 0; k < 3; k++) {
                if (find_in(env, client_names[k], path, len) ||
                    find_in("/usr/sbin:/sbin:/usr/bin:/bin", client_names[k], path, len)) {
                        *kind = (enum dhcp_client_kind)k;
                        return 0;
                }
        }
        return -ENOENT;
}

/* The argument vector of KIND for IFNAME: always in the foreground, IPv4. */
static void build_argv(enum dhcp_client_kind kind, const char *prog, const char *ifname,
                       const char *rundir, const char *script, char pidf[], char leasef[],
                       size_t len, const char *argv[12])
{
        int i = 0;
        argv[i++] = prog;
        switch (kind) {
        case DHCP_DHCLIENT:
                argv[i++] = "-d";
                argv[i++] = "-4";
                if (script) {
                        argv[i++] = "-sf";
                        argv[i++] = script;
                }
                if (rundir) {
                        snprintf(pidf, len, "%s/dhclient-%s.pid", rundir, ifname);
                        snprintf(leasef, len, "%s/dhclient-%s.leases", rundir, ifname);
                        argv[i++] = "-pf";
                        argv[i++] = pidf;
                        argv[i++] = "-lf";
                        argv[i++] = leasef;
                }
                argv[i++] = ifname;
                break;
        case DHCP_UDHCPC:
                argv[i++] = "-f";
                argv[i++] = "-i";
                argv[i++] = ifname;
                if (script) {
                        argv[i++] = "-s";
                        argv[i++] = script;
                }
                break;
        case DHCP_DHCPCD:
                argv[i++] = "-B";
                argv[i++] = "-4";
                if (script) {
                        argv[i++] = "-c";
                        argv[i++] = script;
                }
                argv[i++] = ifname;
                break;
        }
        argv[i] = NULL;
}

int dhcp_start(struct nl_ctx *ctx, const char *ifname, const char *rundir, struct dhcp_client **out)
{
        char prog[256], pidf[300], leasef[300];
        enum dhcp_client_kind kind;
        if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
                return -EINVAL;
        if (dhcp_find_client(prog, sizeof(prog), &kind) < 0) {
                log_warnx("cannot configure %s by DHCP: no DHCP client installed (looked for "
                          "dhclient, udhcpc, dhcpcd in $PATH, /usr/sbin, /sbin, /usr/bin, /bin)",
                          ifname);
                return -ENOENT;
        }
        int r = nl_link_ifindex(ctx, ifname);
        if (r < 0)
                return r;
        struct dhcp_client *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        /* netd's hook configures the interface and leaves the lease for netd to report */
        char script[300];
        int rs = rundir != NULL ? dhcp_script_install(rundir, script, sizeof(script)) : -ENOENT;
        if (rs < 0 && rundir != NULL)
                log_warnx("cannot write the DHCP hook script: %s (the client's own is used)",
                          strerror(-rs));
        const char *argv[12];
        build_argv(kind, prog, ifname, rundir, rs == 0 ? script : NULL, pidf, leasef, sizeof(pidf),
                   argv);
        int netns = nl_ctx_netns_fd(ctx);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                free(c);
                return r;
        }
        if (pid == 0) {
                /* the child: only async-signal-safe calls until exec */
                /* a netd that dies (SIGKILL) takes its clients along: the netd that
                 * restarts starts its own, never a second client on one interface */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(125);
                if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0)
                        _exit(126);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0) {
                        dup2(devnull, STDIN_FILENO);
                        if (devnull != STDIN_FILENO)
                                close(devnull);
                }
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execv(prog, (char *const *)argv);
                _exit(127);
        }
        c->pid = pid;
        c->kind = kind;
        snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
        log_info("started %s (pid %d) for %s", prog, (int)pid, ifname);
        *out = c;
        return 0;
}

pid_t dhcp_pid(const struct dhcp_client *c)
{
        return c ? c->pid : 0;
}

bool dhcp_running(struct dhcp_client *c)
{
        if (!c || c->pid <= 0)
                return false;
        int status;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == 0)
                return true;
        if (r == c->pid) {
                log_warnx("%s for %s exited (status %d)", dhcp_client_name(c->kind), c->ifname,
                          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
        c->pid = 0;
        return false;
}

void dhcp_stop(struct dhcp_client *c)
{
        if (!c)
                return;
        if (c->pid > 0) {
                kill(c->pid, SIGTERM);
                struct timespec step = {0, 20 * 1000 * 1000};
                int i;
                for (i = 0; i < 100 && waitpid(c->pid, NULL, WNOHANG) == 0; i++)
                        nanosleep(&step, NULL);
                if (i == 100) {
                        kill(c->pid, SIGKILL);
                        waitpid(c->pid, NULL, 0);
                }
                log_info("stopped %s for %s", dhcp_client_name(c->kind), c->ifname);
        }
        free(c);
}
