/* `domd --zygote`: a template domd that xapid starts once.  It has loaded the binary and
 * its libraries but opened nothing; for each request on fd DOMD_ZYGOTE_FD (a SOCK_SEQPACKET
 * socket: one message, the domd's argv as NUL-terminated strings) it forks a domd that runs
 * as a freshly exec'd `domd ARGS...` would, saving the exec and the dynamic loader's work.
 *
 * The domd is the zygote's child (one fork: a double fork that handed it to xapid cost a
 * third of a domd's start in CPU).  The zygote reaps its domds and reports each exit on fd
 * DOMD_ZYGOTE_EXIT_FD, one struct domd_zygote_exit per SOCK_SEQPACKET message, as xapid's
 * waitpid would have seen it.  If the zygote dies, its domds are reparented to xapid (a
 * child subreaper), which then reaps them itself.  The reply to a request (from the domd
 * itself, or from the zygote when the fork failed) is one int32_t: the domd's pid, or
 * -errno.  The zygote exits when xapid closes its end of DOMD_ZYGOTE_FD.  xapid starts it
 * with LD_BIND_NOW=1, so that the domds need not each resolve symbols again. */
#ifndef TS_DOMD_ZYGOTE_H
#define TS_DOMD_ZYGOTE_H

#include <stdint.h>

#define DOMD_ZYGOTE_FD      3
#define DOMD_ZYGOTE_EXIT_FD 4
#define DOMD_ZYGOTE_ARG     "--zygote"
#define DOMD_ZYGOTE_MAX     8192 /* bytes of one request */
#define DOMD_ZYGOTE_ARGS    64   /* strings in one request */
/* Further arguments are ignored: xapid passes blanks there, the room of the domds'
 * process titles (they reuse the zygote's command line). */
#define DOMD_ZYGOTE_TITLE_ROOM 128

struct domd_zygote_exit {
        int32_t pid;
        int32_t status; /* as waitpid() returns it */
};

/* Serves requests until xapid goes; RUN(argc, argv) is domd's main after the fork. */
int domd_zygote_serve(int argc, char **argv, int (*run)(int argc, char **argv));

#endif
