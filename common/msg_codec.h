/* The envelope codec of the internal links: pure functions, no sockets.
 *
 * Every ZeroMQ message between xapid and its peers is one frame holding a serialized
 * ts.Envelope (proto/envelope.proto) around a typed body.  msg_encode() builds that frame,
 * msg_decode() parses and validates one, msg_check_fresh() decides whether a valid envelope
 * belongs to an incarnation that has since been replaced.  Every rejection is counted in a
 * struct msg_counters by reason, which daemons expose in their `status`.
 *
 *	uint8_t *buf; size_t len;
 *	struct msg_header h = {.kind = TS__KIND__EVENT, .generation = gen, .sender = "netd"};
 *	int r = msg_encode(&h, &link_down.base, &buf, &len);	// caller frees buf
 *	...
 *	Ts__Envelope *env;
 *	r = msg_decode(buf, len, &env, &counters);		// -EBADMSG, -EPROTO
 *	r = msg_check_fresh(env, peer_gen, my_gen, pending, &counters);	// -ESTALE
 *	msg_envelope_free(env);
 */
#ifndef TS_COMMON_MSG_CODEC_H
#define TS_COMMON_MSG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/envelope.pb-c.h"

/* Version of the envelope semantics this code speaks (ts.ProtocolVersion). */
#define MSG_PROTOCOL_VERSION TS__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT

/* Largest frame accepted or produced (a body is a command or a state summary, not a disk). */
#define MSG_MAX_FRAME (4u << 20)
/* Longest identity ("domd/<uuid>" is 41; ZeroMQ allows 255). */
#define MSG_IDENTITY_MAX 255

/* Why a received message was rejected. */
enum msg_reject {
        MSG_REJ_MALFORMED, /* not a protobuf Envelope, or too large (EBADMSG) */
        MSG_REJ_VERSION,   /* protocol_version is not ours (EPROTO) */
        MSG_REJ_MISSING,   /* sender, type, kind, generation or request_id missing (EBADMSG) */
        MSG_REJ_STALE,     /* from a replaced incarnation, or a reply nobody waits for (ESTALE) */
        MSG_REJ_BAD_BODY,  /* body does not parse as its declared type (EBADMSG) */
        MSG_REJ_UNKNOWN_TYPE, /* no handler for a request or event of that type */
        MSG_REJ_BAD_SENDER,   /* sender differs from the ZeroMQ routing id (EPERM) */
        MSG_REJ__COUNT
};

struct msg_counters {
        uint64_t rx;        /* frames received */
        uint64_t tx;        /* frames sent */
        uint64_t tx_failed; /* sends refused (peer unknown, not connected, queue full) */
        uint64_t timeouts;  /* requests that got no reply in time */
        uint64_t nudges;    /* "say Hello again" sent (server) or acted on (client) */
        uint64_t rejected[MSG_REJ__COUNT];
};

/* Short name of a rejection reason ("malformed", "version", ...), for status output. */
const char *msg_reject_name(enum msg_reject r);
/* Sum of all rejections. */
uint64_t msg_counters_rejected(const struct msg_counters *c);

/* What goes into an envelope besides the body; strings are borrowed. */
struct msg_header {
        Ts__Kind kind;
        uint64_t request_id;         /* REQUEST/REPLY: non-zero */
        uint64_t generation;         /* the sender's generation, non-zero */
        uint64_t request_generation; /* REPLY: the requester's generation */
        const char *sender;
};

/* Serializes H around BODY (its type name is BODY's descriptor name).  On success *OUT is
 * a malloc'ed buffer of *LEN bytes that the caller frees.  Returns 0, -EINVAL for a bad
 * header or a NULL body, -EMSGSIZE above MSG_MAX_FRAME, -ENOMEM. */
int msg_encode(const struct msg_header *h, const ProtobufCMessage *body, uint8_t **out,
               size_t *len);

/* Parses and validates one frame.  On success *OUT is an envelope the caller frees with
 * msg_envelope_free().  Returns 0, -EBADMSG (not an envelope, or a field missing), -EPROTO
 * (another protocol version).  Each rejection is counted in C (which may be NULL). */
int msg_decode(const uint8_t *buf, size_t len, Ts__Envelope **out, struct msg_counters *c);

/* Staleness of a valid envelope.  PEER_GENERATION is the newest generation known for the
 * sender (0: none known); OWN_GENERATION is the receiver's; REPLY_PENDING says whether a
 * REPLY's request_id matches a request the receiver still waits for (from that sender).
 * Returns 0 or -ESTALE (counted in C): an envelope from a generation older than the
 * sender's known one, or a REPLY that is not for this incarnation or not awaited. */
int msg_check_fresh(const Ts__Envelope *env, uint64_t peer_generation, uint64_t own_generation,
                    int reply_pending, struct msg_counters *c);

/* Unpacks ENV's body as a D.  Returns 0 and *OUT (free with protobuf_c_message_free_unpacked,
 * NULL allocator), or -EBADMSG when the type differs or the body does not parse. */
int msg_body_unpack(const Ts__Envelope *env, const ProtobufCMessageDescriptor *d,
                    ProtobufCMessage **out);

void msg_envelope_free(Ts__Envelope *env);

#endif
