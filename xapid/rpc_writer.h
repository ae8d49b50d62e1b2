/* Streaming serializer of RPC responses, one interface for XML-RPC and JSON-RPC.
 *
 * Output is appended to a libevent evbuffer, so a large result (get_all_records over
 * thousands of rows) can be produced piecewise while the HTTP layer sends what is there.
 * XML-RPC output is compact (no whitespace between elements), 64-bit ints are written as
 * decimal strings as XAPI does, datetimes as <dateTime.iso8601>YYYYMMDDTHH:MM:SSZ.
 * JSON output uses numbers for ints and the same datetime text as a string.
 *
 * Text, as XAPI (xapi-rpc) writes it: XML strings are bare text in <value> (no <string>),
 * with & < > " escaped, \r kept raw, and control characters XML cannot carry dropped; struct
 * member names are escaped the same way.  JSON strings escape " \ and control characters.
 * In both, bytes that are not valid UTF-8 become U+FFFD, so output always parses.  Doubles are
 * "%.16g" (XAPI), or "%.17g" when that would not round-trip; JSON appends ".0" to integral
 * values and writes NaN, Infinity, -Infinity as XAPI's Yojson does; XML writes nan, inf, -inf.
 *
 * Usage for a success:   rpcw_begin(w); <one value>; rpcw_end(w);
 * and for a failure:     rpcw_failure(w, &err);
 * A value is a scalar call, or struct_begin (member name + value)* struct_end, or
 * array_begin value* array_end. */
#ifndef TS_XAPID_RPC_WRITER_H
#define TS_XAPID_RPC_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct evbuffer;
struct api_error;
struct rpc_value;

enum rpcw_format {
        RPCW_XMLRPC,
        RPCW_JSONRPC,
        RPCW_XML_FRAGMENT, /* a bare <value>…</value>, as stored in task.result */
};

#define RPCW_MAX_DEPTH 64
/* Output is staged in the writer and handed to the evbuffer in blocks of this size, at the
 * end of every top-level value, in rpcw_end/rpcw_failure and in rpcw_flush. */
#define RPCW_BUF_SIZE 4096

struct rpc_writer {
        enum rpcw_format format;
        int json_version;     /* 1 or 2 for RPCW_JSONRPC */
        const char *json_id;  /* raw JSON text of the request id, borrowed; "null" if NULL */
        struct evbuffer *out; /* borrowed */
        int depth;
        /* per depth: 0 nothing written yet in this container, 1 after an element; 'S'/'A' kind */
        unsigned char count[RPCW_MAX_DEPTH];
        unsigned char kind[RPCW_MAX_DEPTH];
        bool in_member; /* XML: a <member> is open, waiting for its value */
        /* Sticky: 0, or -E2BIG (nesting deeper than RPCW_MAX_DEPTH), -EINVAL (calls out of
         * order, e.g. a struct value without rpcw_member), -ENOMEM (evbuffer).  After an error
         * further calls write nothing (but rpcw_failure); the caller must not send the output. */
        int err;
        size_t blen;
        char buf[RPCW_BUF_SIZE];
};

void rpcw_init(struct rpc_writer *w, enum rpcw_format fmt, struct evbuffer *out);
/* JSON-RPC: VERSION 1 or 2, ID the raw JSON id text (borrowed until the writer is done). */
void rpcw_set_json(struct rpc_writer *w, int version, const char *id);

/* Envelope of a success: XML-RPC {Status: Success, Value: …}; JSON-RPC version 1
 * {"result":…,"error":null,"id":ID}, version 2 {"jsonrpc":"2.0","result":…,"id":ID};
 * nothing for RPCW_XML_FRAGMENT.  rpcw_end also flushes. */
void rpcw_begin(struct rpc_writer *w);
void rpcw_end(struct rpc_writer *w);
/* A whole failure response: XML-RPC {Status: Failure, ErrorDescription: [code, params…]};
 * JSON-RPC in the shape of the request's version, as XAPI writes it:
 *   1: {"result":null,"error":["CODE","p1",…],"id":ID}
 *   2: {"jsonrpc":"2.0","error":{"code":1,"message":"CODE","data":["p1",…]},"id":ID}
 * RPCW_XML_FRAGMENT: just the ErrorDescription array as a <value>.  Resets the writer's
 * nesting state and error first; a NULL or empty E gives code INTERNAL_ERROR. */
void rpcw_failure(struct rpc_writer *w, const struct api_error *e);

void rpcw_struct_begin(struct rpc_writer *w);
void rpcw_member(struct rpc_writer *w, const char *name); /* next value belongs to NAME */
void rpcw_struct_end(struct rpc_writer *w);
void rpcw_array_begin(struct rpc_writer *w);
void rpcw_array_end(struct rpc_writer *w);

void rpcw_string(struct rpc_writer *w, const char *s); /* NULL writes "" */
void rpcw_string_n(struct rpc_writer *w, const char *s, size_t len);
void rpcw_int(struct rpc_writer *w, int64_t v);
/* An OCaml Int32 (event.from's valid_ref_counts): XML <i4>, as xapi-rpc writes it. */
void rpcw_int32(struct rpc_writer *w, int32_t v);
void rpcw_double(struct rpc_writer *w, double v);
void rpcw_bool(struct rpc_writer *w, bool v);
void rpcw_datetime(struct rpc_writer *w, time_t t); /* UTC */
void rpcw_nil(struct rpc_writer *w);                /* XML <nil/>, JSON null */
/* A datetime already in XAPI's text form (YYYYMMDDTHH:MM:SSZ), e.g. a decoded one. */
void rpcw_datetime_str(struct rpc_writer *w, const char *s);
/* Writes a decoded value tree (strings with is_datetime as datetimes).  Returns rpcw_error. */
int rpcw_value(struct rpc_writer *w, const struct rpc_value *v);
/* Hands staged output to the evbuffer now. */
void rpcw_flush(struct rpc_writer *w);
/* 0 or the sticky error (see struct rpc_writer). */
int rpcw_error(const struct rpc_writer *w);
/* Writes an already-serialized XML <value>…</value> fragment (task.result) as a value:
 * verbatim in XML-RPC, converted to JSON in JSON-RPC.  Returns 0 or -EINVAL (then nothing
 * was written). */
int rpcw_raw_xml_value(struct rpc_writer *w, const char *xml, size_t len);

#endif
