/* The domd zygote (see zygote.h). */
#include "domd/zygote.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proctitle.h"

static void reply(int fd, int32_t v)
{
        (void)send(fd, &v, sizeof(v), MSG_NOSIGNAL);
}

/* In the domd: what posix_spawn did for a domd started directly (its own session, no
 * blocked signals, default dispositions); stdin is already /dev/null (the zygote's). */
static void become_domd(void)
{
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        const int defaults[] = {SIGCHLD, SIGTERM, SIGINT, SIGPIPE, SIGHUP};
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
                signal(defaults[i], SIG_DFL);
}

/* Splits a request into ARGV (NULL-terminated); returns argc, or -1 when malformed. */
static int parse_request(char *buf, size_t len, char **argv)
{
        int argc = 0;
        size_t at = 0;
        while (at < len) {
                if (argc == DOMD_ZYGOTE_ARGS - 1)
                        return -1;
                argv[argc++] = buf + at;
                at += strlen(buf + at) + 1;
        }
        argv[argc] = NULL;
        return argc >= 1 ? argc : -1;
}

/* The command line as the title, until domd sets its own. */
static void set_title(int argc, char **argv)
{
        char t[512];
        size_t at = 0;
        for (int i = 0; i < argc && at < sizeof(t) - 1; i++)
                at += (size_t)snprintf(t + at, sizeof(t) - at, "%s%s", i ? " " : "", argv[i]);
        proctitle_set("%s", t);
}

int domd_zygote_serve(int argc, char **argv, int (*run)(int argc, char **argv))
{
        /* every symbol is bound by now; what the domds run (pygrub, QEMU, qemu-img) need not
         * be (before proctitle_init, which moves the environment to the heap) */
        unsetenv("LD_BIND_NOW");
        /* Each domd's ZeroMQ context has OpenPGM look its protocol up in the NSS
         * "protocols" database, whose first use loads the NSS configuration and tries the
         * modules it names (libnss_db: dozens of failed opens): done once here, the domds
         * inherit it. */
        (void)getprotobyname("pgm");
        /* the title space of this process is what the domds inherit */
        proctitle_init(argc, argv);
        proctitle_set("domd --zygote");
        int fd = DOMD_ZYGOTE_FD;
        /* xapid's own signals: a terminal's ^C reaches xapid, which closes our socket */
        signal(SIGINT, SIG_IGN);
        static char buf[DOMD_ZYGOTE_MAX + 1];
        for (;;) {
                ssize_t n = recv(fd, buf, DOMD_ZYGOTE_MAX, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n == 0 ? 0 : 1;
                buf[n] = '\0';
                char *args[DOMD_ZYGOTE_ARGS];
                int nargs = parse_request(buf, (size_t)n, args);
                if (nargs < 0) {
                        reply(fd, -EINVAL);
                        continue;
                }
                pid_t mid = fork();
                if (mid < 0) {
                        reply(fd, -errno);
                        continue;
                }
                if (mid > 0) {
                        while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
                                ;
                        continue;
                }
                pid_t domd = fork();
                if (domd != 0) {
                        if (domd < 0)
                                reply(fd, -errno);
                        _exit(domd < 0); /* the domd is orphaned, to xapid (the subreaper) */
                }
                /* the domd */
                reply(fd, (int32_t)getpid());
                close(fd);
                become_domd();
                set_title(nargs, args);
                optind = 1;
                return run(nargs, args);
        }
}
