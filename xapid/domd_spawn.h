/* Starting domd processes and reaping them.
 *
 * xapid starts `domd --vm UUID` itself (fork/exec of the binary next to its own, or the
 * configured path), or through `systemctl start domd@UUID` when configured to use systemd.
 * Every child is reaped in one place, a SIGCHLD handler on the event loop, which reports
 * the exits of domds to the owner.  The exec itself runs on a thread of its own. */
#ifndef TS_XAPID_DOMD_SPAWN_H
#define TS_XAPID_DOMD_SPAWN_H

#include <spawn.h>
#include <stdbool.h>
#include <sys/types.h>

struct event_base;
struct domd_spawner;

struct domd_spawn_config {
        const char *domd_path;   /* NULL or "": "domd" next to /proc/self/exe */
        const char *domd_config; /* passed with -c when the file exists */
        bool use_systemd;        /* systemctl start domd@UUID */
        bool zygote;             /* not with systemd: fork domds from `domd --zygote` */
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
/* Asks the domd of VM UUID (if this xapid started it) to stop, with SIGTERM. */
void domd_spawner_kill(struct domd_spawner *s, const char *uuid);

/* Spares: domds started ahead of need, with no VM, so that a start does not wait for an
 * exec (`domd --vm spare-XXXXXXXX`, domd/spare.c).  N of them are kept (0: none); not with
 * systemd, where each domd@UUID unit is one VM's from its start.  Idle spares are killed by
 * domd_spawner_free() and exit by themselves when they lose the xapid that started them. */
#define DOMD_SPARE_NAME_LEN 16 /* "spare-" + 8 hex digits + NUL */
void domd_spawner_set_spares(struct domd_spawner *s, unsigned n);
/* True for the name (and msg identity) of a spare. */
bool domd_spare_name(const char *name);
/* A spare's Hello (UP) or its silence, from the msg layer. */
void domd_spare_announced(struct domd_spawner *s, const char *name, int pid, bool up);
/* How many spares are on their way (started, not announced yet). */
unsigned domd_spares_starting(struct domd_spawner *s);
/* True when a spare is ready to be taken. */
bool domd_spare_ready(struct domd_spawner *s);
/* Makes a ready spare the domd of VM UUID, fills NAME with its msg identity (to which the
 * Build goes) and refills the pool soon.  Returns 0 or -ENOENT (none ready). */
int domd_spare_take(struct domd_spawner *s, const char *uuid, char name[DOMD_SPARE_NAME_LEN]);

/* The attributes every domd (and the zygote) is started with (domd_spawn.c). */
void domd_spawn_attrs(posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa);

#endif
