/* Starting domd processes and reaping them.
 *
 * xapid starts `domd --vm UUID` itself (fork/exec of the binary next to its own, or the
 * configured path), or through `systemctl start domd@UUID` when configured to use systemd.
 * Every child is reaped in one place, a SIGCHLD handler on the event loop, which reports
 * the exits of domds to the owner.  The exec itself runs on a thread of its own. */
#ifndef TS_XAPID_DOMD_SPAWN_H
#define TS_XAPID_DOMD_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

struct event_base;
struct domd_spawner;

struct domd_spawn_config {
        const char *domd_path;   /* NULL or "": "domd" next to /proc/self/exe */
        const char *domd_config; /* passed with -c when the file exists */
        bool use_systemd;        /* systemctl start domd@UUID */
        /* passed as -o KEY=VALUE: run_dir, state_dir, log_level, sim.host_memory */
        const char *const *overrides;
        size_t n_overrides;
};

/* EXITED(arg, uuid, status) when a domd child exits (status as from waitpid). */
int domd_spawner_new(struct event_base *base, const struct domd_spawn_config *cfg,
                     void (*exited)(void *arg, const char *uuid, int status), void *arg,
                     struct domd_spawner **out);
void domd_spawner_free(struct domd_spawner *s);

/* Starts the domd of VM UUID (on the spawning thread, soon); returns 0 or -errno. */
int domd_spawn(struct domd_spawner *s, const char *uuid);
/* True while a child asked for UUID has not been reaped (or is still to be spawned). */
bool domd_spawn_running(struct domd_spawner *s, const char *uuid);

#endif
