#include "xapid/xen_host_facts.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void parse_line(char *line, struct xen_host_facts *out)
{
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL)
                return;
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (strcmp(k, "backend") == 0)
                snprintf(out->backend, sizeof(out->backend), "%s", v);
        else if (strcmp(k, "hypervisor_version") == 0)
                snprintf(out->hypervisor_version, sizeof(out->hypervisor_version), "%s", v);
        else if (strcmp(k, "total_memory") == 0)
                out->total_memory = strtoull(v, NULL, 10);
        else if (strcmp(k, "free_memory") == 0)
                out->free_memory = strtoull(v, NULL, 10);
        else if (strcmp(k, "nr_cpus") == 0)
                out->nr_cpus = (unsigned)strtoul(v, NULL, 10);
}

int xen_host_facts_read(const char *domd_path, struct xen_host_facts *out)
{
        memset(out, 0, sizeof(*out));
        char path[4096];
        if (domd_path != NULL && domd_path[0] != '\0') {
                snprintf(path, sizeof(path), "%s", domd_path);
        } else {
                char self[4000];
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n < 0)
                        return -errno;
                self[n] = '\0';
                snprintf(path, sizeof(path), "%s/domd", dirname(self));
        }
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(fds[0]);
                close(fds[1]);
                return -e;
        }
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                execl(path, path, "--host-info", (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        FILE *f = fdopen(fds[0], "r");
        if (f == NULL) {
                close(fds[0]);
        } else {
                char line[256];
                while (fgets(line, sizeof(line), f) != NULL)
                        parse_line(line, out);
                fclose(f);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out->total_memory == 0)
                return -EIO;
        return 0;
}
