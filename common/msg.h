/* The internal messaging layer: xapid's ZeroMQ ROUTER ("server") and the DEALER ("client")
 * of stord, netd and every domd, on a libevent loop.  See ARCHITECTURE.md §2 "Internal".
 *
 * Wire: one frame per message, a ts.Envelope (common/msg_codec.h) around a protobuf body.
 * Requests get exactly one reply (the body's type, or a ts.peer.Error); events get none.
 * The layer itself handles ts.peer.Hello/HelloAck and Ping/Pong:
 *  - a client sends Hello on start, then Ping every heartbeat; it sends Hello again when a
 *    message shows that the server has a new generation, when a Pong says the server does
 *    not know it, when no Pong came within the timeout (xapid restarted or stalled), or when
 *    ZeroMQ's socket monitor reports the connection closed or made anew;
 *  - the server lists peers from their Hello, refreshes them on every frame, and drops a
 *    peer after peer_timeout_ms without a frame (a SIGKILLed domd disappears within that).
 * Quiet peers (client idle_ping_ms > 0, the domds): the server watches the process named
 * by Hello's pid through a pidfd and drops the peer when it exits; it says so in HelloAck
 * (watched), and from then on the client pings every heartbeat only while it owes the
 * server a reply, and every idle_ping_ms otherwise.  For a watched peer silence counts only
 * while a request to it is pending: silent for peer_timeout_ms since the request was sent
 * or its last frame, it is dropped (a stopped or wedged process).  So an idle host with a
 * thousand domds exchanges nothing, and the server's periodic sweep walks only the peers
 * that heartbeat and the pending requests.
 * Malformed, stale or unexpected frames are counted (msg_link_counters()), logged with rate
 * limiting, and dropped; nothing a peer sends is fatal.  A reply that arrives after its
 * request completed (timeout, peer dropped) counts as stale too, but is also passed to the
 * handler registered for its body type, if any, with from->kind REPLY: it may still carry
 * news (a domd stopped past the timeout finished the work anyway).  A request whose peer goes away
 *or restarts completes at once with -ECONNRESET rather than waiting for its timeout.
 *
 * Server (xapid):
 *	struct msg_server_config sc = {.path = "/run/xapid/msg.sock"};
 *	struct msg_link *srv;
 *	if (msg_server_new(base, &sc, &srv) < 0) fatal(...);
 *	msg_link_on_peer(srv, peer_changed, NULL);	// up/down of stord, netd, domd/...
 *	msg_link_handle(srv, &ts__dom__shutdown_event__descriptor, on_shutdown, NULL);
 *	msg_link_request(srv, "stord", &req.base, &ts__sto__vdi_created__descriptor,
 *			 30000, on_vdi_created, task);
 *
 * Client (stord):
 *	struct msg_client_config cc = {.path = "/run/xapid/msg.sock", .identity = "stord",
 *				       .role = "stord", .version = TS_VERSION};
 *	msg_client_new(base, &cc, &cli);
 *	msg_link_set_state(cli, "srs", "3");		// goes into every Hello
 *	msg_link_handle(cli, &ts__sto__vdi_create__descriptor, on_vdi_create, ctx);
 *
 *	static int on_vdi_create(struct msg_link *l, const struct msg_origin *from,
 *				 const ProtobufCMessage *body, void *arg)
 *	{
 *		const Ts__Sto__VdiCreate *req = (const Ts__Sto__VdiCreate *)body;
 *		if (...bad...) return -EINVAL;		// the layer replies Error(EINVAL)
 *		Ts__Sto__VdiCreated rep = TS__STO__VDI_CREATED__INIT; ...
 *		return msg_link_reply(l, from, &rep.base); // or keep *from, reply later
 *	}
 *
 * Ownership: a link belongs to its creator and is freed with msg_link_free(), never from
 * inside one of its own callbacks.  Bodies passed in are borrowed for the call; bodies passed
 * to callbacks are borrowed for the callback.  Everything runs on the caller's event_base
 * thread.
 */
#ifndef TS_COMMON_MSG_H
#define TS_COMMON_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/msg_codec.h"
#include "proto/peer.pb-c.h"

struct event_base;
struct msg_link;

/* Identity of the server on every link. */
#define MSG_SERVER_IDENTITY "xapid"

struct msg_server_config {
        const char *path;     /* ipc socket path (bound as ipc://PATH); required */
        unsigned mode;        /* permissions of the socket file; 0 means 0600 */
        uint64_t generation;  /* 0: derived from the clock (microseconds since the epoch) */
        int peer_timeout_ms;  /* drop a silent peer after this long; 0 means 3000 */
        const char *identity; /* NULL means MSG_SERVER_IDENTITY */
};

struct msg_client_config {
        const char *path;     /* the server's ipc socket path; required */
        const char *identity; /* "stord", "netd", "domd/<uuid>"; required, 1..255 bytes */
        const char *role;     /* "stord", "netd", "domd"; NULL means the identity */
        const char *version;  /* software version announced in Hello; NULL means "" */
        uint64_t generation;  /* 0: derived from the clock */
        int heartbeat_ms;     /* Ping interval; 0 means 1000 */
        int timeout_ms;       /* no Pong for this long: Hello again; 0 means 3 * heartbeat */
        int idle_ping_ms;     /* >0: ask to be watched (Hello.quiet); once the server watches,
                               * ping this often while no request of its is being worked on */
};

/* Where a request or event came from; a value, so a handler may copy it and reply later. */
struct msg_origin {
        char peer[MSG_IDENTITY_MAX + 1]; /* sender identity */
        Ts__Kind kind;                   /* REQUEST or EVENT */
        uint64_t request_id;
        uint64_t generation; /* the sender's generation */
        const char *type;    /* body type; valid during the callback only */
};

/* Called for a request or event of the registered type, BODY unpacked as that type.
 * For a REQUEST: return 0 once msg_link_reply*() was called, or will be later; return a
 * negative errno to have the layer reply ts.peer.Error with it.  Events ignore the result. */
typedef int (*msg_handler_fn)(struct msg_link *l, const struct msg_origin *from,
                              const ProtobufCMessage *body, void *arg);

/* Completion of msg_link_request(): exactly once.  STATUS 0 with REPLY unpacked as the
 * requested type (NULL if no type was given); or -errno from a ts.peer.Error reply with its
 * text in ERRTEXT; or -ETIMEDOUT, -ECONNRESET (peer gone or restarted), -EBADMSG (reply of
 * the wrong type or unparsable), -ECANCELED (link freed). */
typedef void (*msg_reply_fn)(int status, const ProtobufCMessage *reply, const char *errtext,
                             void *arg);

/* What the server knows of a peer (borrowed; valid until the loop runs again). */
struct msg_peer_info {
        const char *identity;
        const char *role;
        const char *version;
        int pid;
        int64_t start_time; /* unix seconds, from Hello */
        uint64_t generation;
        uint64_t last_seen_ms;                  /* CLOCK_MONOTONIC milliseconds of its last frame */
        const Ts__Peer__KeyValue *const *state; /* the state summary of its last Hello */
        size_t n_state;
        int watched; /* server: its process is watched (pidfd); its silence is fine when idle */
};

/* Server: UP is 1 on every Hello of a peer (first one, re-announce, new generation after a
 * restart: reconcile with its state each time), 0 when it is dropped for silence.  Client:
 * the peer is the server, up on HelloAck, down on silence or a server restart.  Requests and
 * events from a routing id that has not said Hello are still dispatched to handlers. */
typedef void (*msg_peer_fn)(struct msg_link *l, const struct msg_peer_info *peer, int up,
                            void *arg);

/* Binds a ROUTER on cfg->path (an existing socket file there is replaced).  Returns 0,
 * -EINVAL, -ENAMETOOLONG, or a negative errno from ZeroMQ. */
int msg_server_new(struct event_base *base, const struct msg_server_config *cfg,
                   struct msg_link **out);
/* Connects a DEALER to cfg->path; it need not exist yet (ZeroMQ retries).  Sends Hello at
 * once and then heartbeats. */
int msg_client_new(struct event_base *base, const struct msg_client_config *cfg,
                   struct msg_link **out);
/* Completes pending requests with -ECANCELED, closes the socket.  Accepts NULL. */
void msg_link_free(struct msg_link *l);

/* Registers FN for requests and events whose body is a D (replaces an earlier one).
 * Returns 0, -EINVAL, -ENOMEM. */
int msg_link_handle(struct msg_link *l, const ProtobufCMessageDescriptor *d, msg_handler_fn fn,
                    void *arg);
void msg_link_on_peer(struct msg_link *l, msg_peer_fn fn, void *arg);

/* Sends BODY as a request to PEER (server: an identity; client: ignored, may be NULL).
 * CB is called exactly once, never from inside this call, unless it returns an error:
 * -EHOSTUNREACH (no such peer / not connected), -EAGAIN (queue full), -EINVAL. */
int msg_link_request(struct msg_link *l, const char *peer, const ProtobufCMessage *body,
                     const ProtobufCMessageDescriptor *reply_type, int timeout_ms, msg_reply_fn cb,
                     void *arg);
/* Sends BODY as an event to PEER (server: an identity, or NULL for every listed peer). */
int msg_link_event(struct msg_link *l, const char *peer, const ProtobufCMessage *body);
/* Replies to the request FROM with BODY, or with a ts.peer.Error. */
int msg_link_reply(struct msg_link *l, const struct msg_origin *from, const ProtobufCMessage *body);
int msg_link_reply_error(struct msg_link *l, const struct msg_origin *from, int err,
                         const char *text);

/* Client: sets KEY=VALUE (copied; VALUE NULL removes) in the state summary of Hello. */
int msg_link_set_state(struct msg_link *l, const char *key, const char *value);
/* Client: says Hello again now, with the state summary as it is (a spare domd that became
 * a VM's), asking to be quiet from now on when IDLE_PING_MS > 0 (see msg_client_config).
 * Returns 0, or -EINVAL for a server link. */
int msg_client_announce_again(struct msg_link *l, int idle_ping_ms);
/* Client: 1 when the server acknowledged our Hello and has not been lost since. */
int msg_link_announced(const struct msg_link *l);
/* Client: 1 when the server watches our process, so that we ping only while busy. */
int msg_link_watched(const struct msg_link *l);
/* Client: the server generation of the last HelloAck (0 if none). */
uint64_t msg_link_peer_generation(const struct msg_link *l);

/* Server: the listed peer IDENTITY, or NULL. */
const struct msg_peer_info *msg_link_peer(struct msg_link *l, const char *identity);
/* Server: calls FN for each listed peer; returns their number. */
size_t msg_link_peers(struct msg_link *l, void (*fn)(const struct msg_peer_info *p, void *arg),
                      void *arg);

uint64_t msg_link_generation(const struct msg_link *l);
const struct msg_counters *msg_link_counters(const struct msg_link *l);

#endif
