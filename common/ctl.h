/* The control socket of a daemon: a unix socket in the run directory (RUNDIR/xapid.ctl,
 * RUNDIR/domd/<uuid>.ctl, ...) on which operators send commands with `tsctl`.  The wire
 * format is in common/ctl_proto.h (one request line, a "<status> <length>" reply header and
 * text).
 *
 * Access: the socket file is created with mode 0600, and every client is checked with
 * SO_PEERCRED: only uid 0 and the daemon's own effective uid are served; anyone else gets a
 * 403 reply and is disconnected.  A production daemon runs as root, so that means root only;
 * a development stack (scripts/stack) runs as a normal user, and then that user can use
 * tsctl on it, and nobody else.
 *
 * Built-in commands: list-commands, version, log/list, log/set [MODULE] LEVEL.  Each daemon
 * registers `status` (it owns the content; the first line is what `tsctl list` shows) and
 * its own commands.
 *
 * Usage from a daemon's main():
 *
 *     static void cmd_status(struct ctl_req *req, int argc, char **argv, void *ctx)
 *     {
 *             struct domd *d = ctx;
 *             ctl_replyf(req, CTL_OK, "vm %s domid %d %s\n", d->uuid, d->domid, d->state);
 *     }
 *     static void cmd_sessions(struct ctl_req *req, int argc, char **argv, void *ctx)
 *     {
 *             // Deferred: keep REQ, reply when the answer arrives (from any callback).
 *             ask_something_async(ctx, on_answer, req);
 *     }
 *     ...
 *     struct ctl_server *ctl;
 *     int r = ctl_server_open(base, "/run/xapid/xapid.ctl", "xapid", &ctl);
 *     if (r < 0) fatalx("control socket: %s", strerror(-r));
 *     ctl_register(ctl, "status", "", cmd_status, d);
 *     ctl_register(ctl, "sessions", "[--all]", cmd_sessions, d);
 *     event_base_dispatch(base);
 *     ctl_server_free(ctl);
 *
 * The server ignores SIGPIPE process-wide (a client vanishing mid-reply must not kill the
 * daemon); daemons should do so anyway.
 */
#ifndef TS_COMMON_CTL_H
#define TS_COMMON_CTL_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/ctl_proto.h"

struct event_base;
struct ctl_server;
struct ctl_req;

/* A command handler.  ARGV[0] is the command name, ARGV[1..ARGC-1] its arguments; ARGV and
 * its strings belong to REQ and stay valid until the reply.  The handler must call
 * ctl_reply/ctl_replyf exactly once for REQ, before returning or later (a deferred reply);
 * that call frees REQ.  Until then the connection waits (later requests queue behind it). */
typedef void ctl_handler_fn(struct ctl_req *req, int argc, char **argv, void *ctx);

/* Creates the socket at PATH (mode 0600; a stale socket left by a dead daemon is replaced,
 * one a live daemon answers on is not: -EADDRINUSE), and serves it on BASE.  PROGRAM names
 * the daemon in `version` (borrowed; a string literal is the norm).  The parent directory
 * must exist.  Returns 0 and *OUT, or a negative errno. */
int ctl_server_open(struct event_base *base, const char *path, const char *program,
                    struct ctl_server **out);
/* Disconnects every client, removes the socket file, frees SRV.  Requests still waiting for
 * a deferred reply stay valid: replying to them then only frees them. */
void ctl_server_free(struct ctl_server *srv);

/* Registers command NAME ("status", "vm/pause"...: no blanks); ARGS_HELP describes its
 * arguments for list-commands ("" when none; borrowed, like NAME).  HANDLER gets CTX.
 * Returns 0, -EEXIST if NAME is taken, -EINVAL for a bad name, -ENOMEM. */
int ctl_register(struct ctl_server *srv, const char *name, const char *args_help,
                 ctl_handler_fn *handler, void *ctx);

/* Replies to REQ with STATUS (enum ctl_status) and TEXT (a trailing newline is added when
 * missing; NULL or "" means no text), then frees REQ.  REQ may be NULL (no-op).  When the
 * client has gone, the reply is dropped. */
void ctl_reply(struct ctl_req *req, int status, const char *text);
void ctl_replyf(struct ctl_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True while the client that sent REQ is still connected (a deferred handler may give up
 * early when it is not; it must still reply to free REQ). */
bool ctl_req_connected(const struct ctl_req *req);
/* Credentials of the client that sent REQ (from SO_PEERCRED). */
uid_t ctl_req_uid(const struct ctl_req *req);
pid_t ctl_req_pid(const struct ctl_req *req);

/* Number of connected clients (for status pages and tests). */
unsigned ctl_server_n_clients(const struct ctl_server *srv);

#endif
