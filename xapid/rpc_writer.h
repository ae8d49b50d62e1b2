/* Streaming serializer of RPC responses, one interface for XML-RPC and JSON-RPC.
 *
 * Output is appended to a libevent evbuffer, so a large result (get_all_records over
 * thousands of rows) can be produced piecewise while the HTTP layer sends what is there.
 * XML-RPC output is compact (no whitespace between elements), 64-bit ints are written as
 * decimal strings as XAPI does, datetimes as <dateTime.iso8601>YYYYMMDDTHH:MM:SSZ.
 * JSON output uses numbers for ints and the same datetime text as a string.
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

enum rpcw_format {
        RPCW_XMLRPC,
        RPCW_JSONRPC,
        RPCW_XML_FRAGMENT, /* a bare <value>…</value>, as stored in task.result */
};

#define RPCW_MAX_DEPTH 64

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
};

void rpcw_init(struct rpc_writer *w, enum rpcw_format fmt, struct evbuffer *out);
/* JSON-RPC: VERSION 1 or 2, ID the raw JSON id text (borrowed until the writer is done). */
void rpcw_set_json(struct rpc_writer *w, int version, const char *id);

/* Envelope of a success: XML-RPC {Status: Success, Value: …}; JSON-RPC {result: …}. */
void rpcw_begin(struct rpc_writer *w);
void rpcw_end(struct rpc_writer *w);
/* A whole failure response: XML-RPC {Status: Failure, ErrorDescription: [code, params…]};
 * JSON-RPC in the shape of the request's version. */
void rpcw_failure(struct rpc_writer *w, const struct api_error *e);

void rpcw_struct_begin(struct rpc_writer *w);
void rpcw_member(struct rpc_writer *w, const char *name); /* next value belongs to NAME */
void rpcw_struct_end(struct rpc_writer *w);
void rpcw_array_begin(struct rpc_writer *w);
void rpcw_array_end(struct rpc_writer *w);

void rpcw_string(struct rpc_writer *w, const char *s); /* NULL writes "" */
void rpcw_string_n(struct rpc_writer *w, const char *s, size_t len);
void rpcw_int(struct rpc_writer *w, int64_t v);
void rpcw_double(struct rpc_writer *w, double v);
void rpcw_bool(struct rpc_writer *w, bool v);
void rpcw_datetime(struct rpc_writer *w, time_t t); /* UTC */
/* Writes an already-serialized XML <value>…</value> fragment (task.result) as a value:
 * verbatim in XML-RPC, converted to JSON in JSON-RPC.  Returns 0 or -EINVAL. */
int rpcw_raw_xml_value(struct rpc_writer *w, const char *xml, size_t len);

#endif
