/* The server side of the internal links (xapid): a ROUTER bound on an ipc:// socket, the
 * table of peers learnt from their Hello, answers to Hello and Ping, and the sweep that
 * drops peers which stopped sending.
 *
 * A peer that asks to be quiet (Hello.quiet) is watched instead: a pidfd on the pid of its
 * Hello tells when its process exits, without a frame.  Only the peers not watched are on
 * the swept list; a watched one is looked at only through the requests pending to it (few,
 * and none on an idle host), so the sweep's work does not grow with the number of domds. */
#include "common/msg_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <zmq.h>

#include "common/log.h"

LOG_MODULE(msg_server);

/* Peers are found by identity through a hash index: every frame looks its sender up, and a
 * host with a thousand domds would otherwise spend its time comparing strings. */
static struct msg_peer **peer_bucket(struct msg_link *l, const char *identity)
{
        unsigned h = 2166136261u;
        for (const char *c = identity; *c; c++)
                h = (h ^ (unsigned char)*c) * 16777619u;
        return &l->peer_index[h % MSG_PEER_BUCKETS];
}

static struct msg_peer *peer_find(struct msg_link *l, const char *identity)
{
        if (l->peer_index == NULL)
                return NULL;
        for (struct msg_peer *p = *peer_bucket(l, identity); p; p = p->hnext)
                if (strcmp(p->identity, identity) == 0)
                        return p;
        return NULL;
}

static int peer_index_add(struct msg_link *l, struct msg_peer *p)
{
        if (l->peer_index == NULL) {
                l->peer_index = calloc(MSG_PEER_BUCKETS, sizeof(*l->peer_index));
                if (l->peer_index == NULL)
                        return -ENOMEM;
        }
        struct msg_peer **b = peer_bucket(l, p->identity);
        p->hnext = *b;
        *b = p;
        return 0;
}

static void peer_index_remove(struct msg_link *l, struct msg_peer *p)
{
        if (l->peer_index == NULL)
                return;
        for (struct msg_peer **pp = peer_bucket(l, p->identity); *pp; pp = &(*pp)->hnext)
                if (*pp == p) {
                        *pp = p->hnext;
                        return;
                }
}

static void swept_remove(struct msg_link *l, struct msg_peer *p)
{
        for (struct msg_peer **pp = &l->swept; *pp; pp = &(*pp)->lnext)
                if (*pp == p) {
                        *pp = p->lnext;
                        return;
                }
}

static void unwatch(struct msg_peer *p)
{
        if (p->pid_ev != NULL)
                event_free(p->pid_ev);
        p->pid_ev = NULL;
        if (p->pidfd >= 0)
                close(p->pidfd);
        p->pidfd = -1;
        p->info.watched = 0;
}

static void peer_free(struct msg_peer *p)
{
        if (p == NULL)
                return;
        unwatch(p);
        if (p->hello != NULL)
                ts__peer__hello__free_unpacked(p->hello, NULL);
        free(p);
}

uint64_t msg_server_peer_gen(struct msg_link *l, const char *identity)
{
        struct msg_peer *p = peer_find(l, identity);
        return p ? p->info.generation : 0;
}

void msg_server_touch(struct msg_link *l, const char *identity, uint64_t generation)
{
        struct msg_peer *p = peer_find(l, identity);
        /* Only frames of the listed incarnation keep it alive. */
        if (p != NULL && p->info.generation == generation)
                p->info.last_seen_ms = msg_now_ms();
}

/* Unlists P and tells those who care; NUDGE: tell P too, should it still be there. */
static void drop_peer(struct msg_link *l, struct msg_peer *p, int nudge)
{
        for (struct msg_peer **pp = &l->peers; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        peer_index_remove(l, p);
        swept_remove(l, p);
        msg_link_fail_pending(l, p->info.identity, -ECONNRESET, 0, 0);
        /* Silent is not dead (a starved or stopped process): if it is still there, it gets
         * this when it runs again and announces itself anew. */
        if (nudge)
                msg_server_nudge(l, p->info.identity);
        if (l->peer_fn != NULL)
                l->peer_fn(l, &p->info, 0, l->peer_arg);
        peer_free(p);
}

static void on_peer_exit(evutil_socket_t fd, short what, void *arg)
{
        struct msg_peer *p = arg;
        log_info("peer %s (pid %d) exited: dropped", p->info.identity, p->info.pid);
        drop_peer(p->l, p, 0);
}

/* Watches the process PID of P (pidfd): 0, or -errno when it cannot (no pidfd_open, no
 * such process: then P heartbeats as peers do by default). */
static int watch(struct msg_link *l, struct msg_peer *p, int pid)
{
        if (p->pidfd >= 0 && p->info.pid == pid)
                return 0;
        unwatch(p);
        if (pid <= 0)
                return -EINVAL;
#ifdef SYS_pidfd_open
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
        int fd = -1;
        errno = ENOSYS;
#endif
        if (fd < 0) {
                static int warned;
                int err = errno;
                if (!warned++)
                        log_warnx("cannot watch the process of peer %s (pid %d): %s; such peers "
                                  "heartbeat instead",
                                  p->identity, pid, strerror(err));
                return -err;
        }
        p->pid_ev = event_new(l->base, fd, EV_READ, on_peer_exit, p);
        if (p->pid_ev == NULL || event_add(p->pid_ev, NULL) < 0) {
                if (p->pid_ev != NULL)
                        event_free(p->pid_ev);
                p->pid_ev = NULL;
                close(fd);
                return -ENOMEM;
        }
        p->pidfd = fd;
        return 0;
}

/* Takes ownership of HELLO; PEER (the routing id) has been checked to be its sender. */
static void peer_hello(struct msg_link *l, const struct msg_origin *from, Ts__Peer__Hello *hello)
{
        struct msg_peer *p = peer_find(l, from->peer);
        if (p != NULL && p->info.generation != from->generation) {
                log_info("%s restarted (generation %llu -> %llu)", from->peer,
                         (unsigned long long)p->info.generation,
                         (unsigned long long)from->generation);
                /* Whatever we asked the previous incarnation will never be answered. */
                msg_link_fail_pending(l, from->peer, -ECONNRESET, 0, 0);
        }
        if (p == NULL) {
                p = calloc(1, sizeof *p);
                if (p == NULL) {
                        ts__peer__hello__free_unpacked(hello, NULL);
                        msg_link_reply_error(l, from, ENOMEM, "out of memory");
                        return;
                }
                /* The routing id is the identity; Hello's own field is informational. */
                snprintf(p->identity, sizeof p->identity, "%s", from->peer);
                p->l = l;
                p->pidfd = -1;
                if (peer_index_add(l, p) < 0) {
                        free(p);
                        ts__peer__hello__free_unpacked(hello, NULL);
                        msg_link_reply_error(l, from, ENOMEM, "out of memory");
                        return;
                }
                p->next = l->peers;
                l->peers = p;
                p->lnext = l->swept; /* until it is watched */
                l->swept = p;
                log_info("peer %s (role %s, pid %d, version %s) connected", from->peer, hello->role,
                         hello->pid, hello->version);
        }
        int was_watched = p->info.watched;
        int watched = hello->quiet && watch(l, p, hello->pid) == 0;
        if (!watched)
                unwatch(p);
        if (watched && !was_watched)
                swept_remove(l, p);
        else if (!watched && was_watched) {
                p->lnext = l->swept;
                l->swept = p;
        }
        if (p->hello != NULL)
                ts__peer__hello__free_unpacked(p->hello, NULL);
        p->hello = hello;
        p->info.identity = p->identity;
        p->info.role = hello->role;
        p->info.version = hello->version;
        p->info.pid = hello->pid;
        p->info.start_time = hello->start_time;
        p->info.generation = from->generation;
        p->info.last_seen_ms = msg_now_ms();
        p->info.state = (const Ts__Peer__KeyValue *const *)hello->state;
        p->info.n_state = hello->n_state;
        p->info.watched = watched;

        Ts__Peer__HelloAck ack = TS__PEER__HELLO_ACK__INIT;
        ack.generation = l->generation;
        ack.watched = watched;
        msg_link_reply(l, from, &ack.base);
        if (l->peer_fn != NULL)
                l->peer_fn(l, &p->info, 1, l->peer_arg);
}

int msg_server_builtin(struct msg_link *l, const struct msg_origin *from, const Ts__Envelope *env)
{
        int is_hello = strcmp(env->type, ts__peer__hello__descriptor.name) == 0;
        int is_ping = strcmp(env->type, ts__peer__ping__descriptor.name) == 0;
        if (!is_hello && !is_ping)
                return 0;
        if (env->kind != TS__KIND__REQUEST) {
                l->counters.rejected[MSG_REJ_UNKNOWN_TYPE]++;
                msg_link_log_reject(l, from->peer, "Hello/Ping not sent as a request", -EBADMSG);
                return 1;
        }
        ProtobufCMessage *body = NULL;
        if (msg_body_unpack(env,
                            is_hello ? &ts__peer__hello__descriptor : &ts__peer__ping__descriptor,
                            &body) < 0) {
                l->counters.rejected[MSG_REJ_BAD_BODY]++;
                msg_link_log_reject(l, from->peer, "unparsable Hello/Ping", -EBADMSG);
                msg_link_reply_error(l, from, EBADMSG, "unparsable body");
                return 1;
        }
        if (is_hello) {
                peer_hello(l, from, (Ts__Peer__Hello *)body);
                return 1;
        }
        struct msg_peer *p = peer_find(l, from->peer);
        Ts__Peer__Pong pong = TS__PEER__PONG__INIT;
        pong.generation = l->generation;
        pong.known = p != NULL && p->info.generation == from->generation;
        msg_link_reply(l, from, &pong.base);
        if (!pong.known)
                msg_server_nudge(l, from->peer); /* in case the reply comes too late */
        protobuf_c_message_free_unpacked(body, NULL);
        return 1;
}

/* Tells IDENTITY that we do not know it (any more): a Pong{known=false} sent as an EVENT, so
 * the peer says Hello again at once, instead of at its next heartbeat (or never, should every
 * reply to its Pings arrive after it stopped waiting).  Best effort: if the connection is
 * gone, the peer finds out from its own heartbeats. */
void msg_server_nudge(struct msg_link *l, const char *identity)
{
        Ts__Peer__Pong pong = TS__PEER__PONG__INIT;
        pong.generation = l->generation;
        pong.known = 0;
        struct msg_header h = {
            .kind = TS__KIND__EVENT, .generation = l->generation, .sender = l->identity};
        if (msg_link_send(l, identity, &h, &pong.base) == 0)
                l->counters.nudges++;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
        struct msg_link *l = arg;
        /* ZMQ_FD only signals edges; should one ever be missed, the frames waiting would
         * make every peer look silent: drain the socket now and then anyway. */
        msg_link_poll(l);
        uint64_t now = msg_now_ms();
        for (struct msg_peer *p = l->swept, *next; p; p = next) {
                next = p->lnext;
                if (now - p->info.last_seen_ms <= (uint64_t)l->peer_timeout_ms)
                        continue;
                log_info("peer %s silent for %llu ms: dropped", p->info.identity,
                         (unsigned long long)(now - p->info.last_seen_ms));
                drop_peer(l, p, 1);
        }
        /* A watched peer owes an answer (or a Ping while it works) to each pending request:
         * silent that long since the request left, it is stopped or wedged. */
        for (int again = 1; again;) {
                again = 0;
                for (struct msg_pending *q = l->pending; q; q = q->next) {
                        struct msg_peer *p = peer_find(l, q->peer);
                        if (p == NULL || !p->info.watched)
                                continue;
                        uint64_t since =
                            p->info.last_seen_ms > q->sent_ms ? p->info.last_seen_ms : q->sent_ms;
                        if (now - since <= (uint64_t)l->peer_timeout_ms)
                                continue;
                        log_info("peer %s silent for %llu ms with a request pending: dropped",
                                 p->info.identity, (unsigned long long)(now - since));
                        drop_peer(l, p, 1); /* fails its pending requests: walk again */
                        again = 1;
                        break;
                }
        }
}

int msg_server_new(struct event_base *base, const struct msg_server_config *cfg,
                   struct msg_link **out)
{
        if (base == NULL || cfg == NULL || out == NULL || cfg->path == NULL || cfg->path[0] == 0)
                return -EINVAL;
        if (strlen(cfg->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return -ENAMETOOLONG;
        struct msg_link *l = calloc(1, sizeof *l);
        if (l == NULL)
                return -ENOMEM;
        l->is_server = 1;
        l->peer_timeout_ms = cfg->peer_timeout_ms > 0 ? cfg->peer_timeout_ms : 3000;
        int r = msg_link_init(l, base, ZMQ_ROUTER,
                              cfg->identity ? cfg->identity : MSG_SERVER_IDENTITY, cfg->generation);
        if (r < 0)
                goto fail;

        char endpoint[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
        snprintf(endpoint, sizeof endpoint, "ipc://%s", cfg->path);
        mode_t mode = cfg->mode ? (mode_t)cfg->mode : 0600;
        /* ZeroMQ creates the socket file while binding: no window with wider permissions. */
        mode_t old = umask(~mode & 0777);
        r = zmq_bind(l->sock, endpoint);
        int err = errno;
        umask(old);
        if (r < 0) {
                r = -err;
                log_warnx("cannot bind %s: %s", endpoint, zmq_strerror(err));
                goto fail;
        }
        if (chmod(cfg->path, mode) < 0) {
                r = -errno;
                log_warn("chmod %s", cfg->path);
                goto fail;
        }

        l->ev_timer = event_new(base, -1, EV_PERSIST, on_sweep, l);
        int ivl = l->peer_timeout_ms / 4 > 10 ? l->peer_timeout_ms / 4 : 10;
        struct timeval tv = {ivl / 1000, (ivl % 1000) * 1000};
        if (l->ev_timer == NULL || event_add(l->ev_timer, &tv) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        log_info("listening on %s (generation %llu)", endpoint, (unsigned long long)l->generation);
        *out = l;
        return 0;
fail:
        msg_link_free(l);
        return r;
}

const struct msg_peer_info *msg_link_peer(struct msg_link *l, const char *identity)
{
        if (l == NULL || !l->is_server || identity == NULL)
                return NULL;
        struct msg_peer *p = peer_find(l, identity);
        return p ? &p->info : NULL;
}

size_t msg_link_peers(struct msg_link *l, void (*fn)(const struct msg_peer_info *p, void *arg),
                      void *arg)
{
        size_t n = 0;
        if (l == NULL || !l->is_server)
                return 0;
        for (struct msg_peer *p = l->peers; p; p = p->next, n++)
                if (fn != NULL)
                        fn(&p->info, arg);
        return n;
}

void msg_server_free(struct msg_link *l)
{
        while (l->peers != NULL) {
                struct msg_peer *p = l->peers;
                l->peers = p->next;
                peer_free(p);
        }
        l->swept = NULL;
        free(l->peer_index);
        l->peer_index = NULL;
}
