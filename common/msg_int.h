/* Private to common/msg_*.c: the link structure shared by the server (msg_server.c) and
 * client (msg_client.c) sides, and the socket/dispatch machinery of msg_link.c. */
#ifndef TS_COMMON_MSG_INT_H
#define TS_COMMON_MSG_INT_H

#include <stdint.h>

#include "common/msg.h"
#include "proto/peer.pb-c.h"

struct event;

struct msg_pending {
        struct msg_pending *next;
        struct msg_link *l;
        uint64_t id;
        char peer[MSG_IDENTITY_MAX + 1];
        uint64_t sent_gen; /* client: server generation when sent (0: not announced) */
        int internal;      /* client: our own Hello/Ping, kept across a server restart */
        const ProtobufCMessageDescriptor *reply_type;
        msg_reply_fn cb;
        void *arg;
        struct event *timer;
        uint64_t sent_ms; /* when it was sent: a watched peer's silence counts from then */
};

struct msg_handler {
        struct msg_handler *next;
        const ProtobufCMessageDescriptor *d;
        msg_handler_fn fn;
        void *arg;
};

#define MSG_PEER_BUCKETS 1024

struct msg_peer {
        struct msg_peer *next;
        struct msg_peer *hnext; /* in the identity index (msg_server.c) */
        struct msg_peer *lnext; /* in the list of peers swept for silence (not watched) */
        struct msg_link *l;
        int pidfd;            /* watched: its process; -1 otherwise */
        struct event *pid_ev; /* pidfd readable: the process exited */
        char identity[MSG_IDENTITY_MAX + 1];
        struct msg_peer_info info; /* strings point into identity and hello */
        Ts__Peer__Hello *hello;    /* owned: the last Hello */
};

struct msg_kv {
        struct msg_kv *next;
        char *key, *value;
};

struct msg_link {
        int is_server;
        struct event_base *base;
        void *ctx, *sock;
        struct event *ev_read;  /* ZMQ_FD readable: drain */
        struct event *ev_timer; /* server: peer sweep; client: heartbeat */
        char *identity;
        uint64_t generation;
        uint64_t next_id;
        struct msg_counters counters;
        struct msg_pending *pending;
        struct msg_handler *handlers;
        msg_peer_fn peer_fn;
        void *peer_arg;
        uint64_t rl_window_ms; /* log rate limiting of rejections */
        unsigned rl_count;

        /* server */
        int peer_timeout_ms;
        struct msg_peer *peers;
        struct msg_peer **peer_index; /* MSG_PEER_BUCKETS chains by identity; lazily made */
        struct msg_peer *swept;       /* the peers not watched: they must heartbeat */

        /* client */
        char *path, *role, *version;
        int heartbeat_ms, timeout_ms;
        int64_t start_time;
        struct msg_kv *state;
        int announced;
        unsigned hello_inflight;
        unsigned hello_failures; /* consecutive Hello send failures: quick retry backoff */
        uint64_t server_gen;
        uint64_t last_rx_ms; /* last fresh frame from the server */
        uint64_t ping_seq;
        uint64_t next_tick_ms;
        int idle_ping_ms;
        int watched;             /* the server watches our process (HelloAck.watched) */
        int reconnecting;        /* the connection closed; not made anew yet */
        uint64_t await_since_ms; /* first Ping not answered by any frame since (0: none) */
        struct msg_owed *owed;   /* requests of the server not answered yet */
        size_t n_owed, owed_cap;
        void *monitor; /* PAIR socket receiving the DEALER's monitor events */
        struct event *ev_monitor;
};

/* A request the client received and has not answered yet (it pings while it has some). */
struct msg_owed {
        uint64_t id, generation;
};

uint64_t msg_now_ms(void);
uint64_t msg_default_generation(void);

/* Common set-up of a link on BASE with a socket of ZMQ type TYPE (ctx, sock, ev_read). */
int msg_link_init(struct msg_link *l, struct event_base *base, int type, const char *identity,
                  uint64_t generation);
/* Checks the socket for frames on the next loop iteration, whatever ZMQ_FD said. */
void msg_link_poll(struct msg_link *l);
/* Sends one envelope (TO: routing id, server only).  Returns 0 or -errno. */
int msg_link_send(struct msg_link *l, const char *to, const struct msg_header *h,
                  const ProtobufCMessage *body);
/* Sends a request, registering a pending entry; *ID gets its id when not NULL. */
int msg_link_request_ex(struct msg_link *l, const char *peer, const ProtobufCMessage *body,
                        const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                        msg_reply_fn cb, void *arg, int internal);
/* Completes (with STATUS) and removes pending requests to PEER (NULL: all); a client
 * passes KEEP_GEN to spare requests sent while the server had that generation or none,
 * and spares its internal ones. */
void msg_link_fail_pending(struct msg_link *l, const char *peer, int status, int client_filter,
                           uint64_t keep_gen);
/* Client: completes (with STATUS) our own Hellos and Pings still pending: the connection
 * they went out on closed, nobody will answer them. */
void msg_link_fail_internal(struct msg_link *l, int status);
/* Logs a rejected frame at warn, at most 10 a second, then debug. */
void msg_link_log_reject(struct msg_link *l, const char *peer, const char *what, int err);

/* Side-specific hooks called by the dispatcher in msg_link.c. */
/* Server: generation of the listed peer (0: not listed); refreshes last-seen when FRESH. */
uint64_t msg_server_peer_gen(struct msg_link *l, const char *identity);
void msg_server_touch(struct msg_link *l, const char *identity, uint64_t generation);
/* Server: handles Hello and Ping; returns 1 if ENV was one of them. */
int msg_server_builtin(struct msg_link *l, const struct msg_origin *from, const Ts__Envelope *env);
/* Server: tells IDENTITY it is not a known peer, so that it says Hello again. */
void msg_server_nudge(struct msg_link *l, const char *identity);
/* Client: handles the server's "say Hello again"; returns 1 if ENV was one. */
int msg_client_builtin(struct msg_link *l, const Ts__Envelope *env);
/* Client: a fresh frame from the server with generation GEN arrived. */
void msg_client_seen(struct msg_link *l, uint64_t gen);
/* Client: request FROM of the server was received / answered. */
void msg_client_owe(struct msg_link *l, const struct msg_origin *from);
void msg_client_paid(struct msg_link *l, const struct msg_origin *from);

void msg_server_free(struct msg_link *l);
void msg_client_free(struct msg_link *l);

#endif
