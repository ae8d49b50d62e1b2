/* xapid's side of the domd zygote (domd/zygote.h): a `domd --zygote` child, started on the
 * first request, that forks domds instead of xapid exec'ing them.  Used by the spawning
 * thread alone (not thread-safe).  The zygote reports its domds' exits on a descriptor the
 * caller reads; creating one makes xapid a child subreaper, so that the domds of a zygote
 * that died are xapid's children to reap. */
#ifndef TS_XAPID_DOMD_ZYGOTE_H
#define TS_XAPID_DOMD_ZYGOTE_H

#include <sys/types.h>

struct domd_zygote;

/* PATH: the domd binary; EXIT_FD: the socket (SOCK_SEQPACKET) on which every zygote writes
 * a struct domd_zygote_exit per domd that exited (borrowed: kept open by the caller).
 * Returns NULL when out of memory or not a subreaper. */
struct domd_zygote *domd_zygote_new(const char *path, int exit_fd);
/* Closes the socket: the zygote exits (its domds stay). */
void domd_zygote_free(struct domd_zygote *z);
/* Starts ARGV (argv[0] the domd path) through the zygote, (re)starting it first if needed
 * (not more often than once a second).  Returns 0 with *PID, or -errno: then the caller
 * starts the domd itself. */
int domd_zygote_spawn(struct domd_zygote *z, const char *const *argv, pid_t *pid);
/* The zygote's pid, or 0 while there is none. */
pid_t domd_zygote_pid(const struct domd_zygote *z);

#endif
