/* The domd zygote (see zygote.h). */
#include "domd/zygote.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proctitle.h"

static void reply(int fd, int32_t v)
{
        (void)send(fd, &v, sizeof(v), MSG_NOSIGNAL);
}

/* Reaps the domds that exited and tells xapid (SFD: the signalfd of SIGCHLD). */
static void reap(int sfd)
{
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                struct domd_zygote_exit e = {.pid = pid, .status = status};
                /* blocking: a busy xapid reads these later; a gone one fails the send */
                ssize_t n;
                while ((n = send(DOMD_ZYGOTE_EXIT_FD, &e, sizeof(e), MSG_NOSIGNAL)) < 0 &&
                       errno == EINTR)
                        ;
        }
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
        /* the domds' exits, read between requests */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return 1;
        static char buf[DOMD_ZYGOTE_MAX + 1];
        for (;;) {
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (p[1].revents != 0)
                        reap(sfd);
                if (p[0].revents == 0)
                        continue;
                ssize_t n = recv(fd, buf, DOMD_ZYGOTE_MAX, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
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
                pid_t domd = fork();
                if (domd != 0) {
                        reply(fd, domd < 0 ? -errno : (int32_t)domd);
                        continue;
                }
                /* the domd */
                close(fd);
                close(sfd);
                close(DOMD_ZYGOTE_EXIT_FD);
                become_domd();
                set_title(nargs, args);
                optind = 1;
                return run(nargs, args);
        }
}
