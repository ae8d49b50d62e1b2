/* XML-RPC request decoder: a <methodCall> (or a bare <value>, as stored in task.result) from
 * bytes into struct rpc_call / struct rpc_value, with libxml2's SAX2 push parser.
 *
 * Hardened for untrusted input: a document type declaration, entity declarations and any
 * entity other than the five predefined ones are rejected (no expansion, so no billion
 * laughs), nothing is loaded from the network or disk, container nesting is limited to
 * RPC_MAX_DEPTH and the input to a size fixed at creation.
 *
 * Value forms: <string>, bare text in <value> (a string, whitespace kept), <int>, <i4>, <i8>
 * (all 64-bit), <double>, <boolean> (0 or 1), <dateTime.iso8601> (string, is_datetime),
 * <base64> (decoded to a string; must not contain NUL), <nil/>, <array><data>…</data></array>,
 * <struct><member><name>…</name><value>…</value></member>…</struct>.  Whitespace between
 * elements is ignored, as pretty-printing clients (Python's xmlrpc.client) need.  Duplicate
 * struct member names are kept, in order, for the dispatch layer to report.
 *
 * Errors: 0 or a negative errno, and a message for humans (malloc'd, caller frees):
 *   -EINVAL malformed XML, unknown or misplaced element, bad scalar, DTD or entities
 *   -ERANGE integer out of the int64 range
 *   -E2BIG  input larger than the limit, or nesting deeper than RPC_MAX_DEPTH
 *   -ENOMEM */
#ifndef TS_XAPID_XMLRPC_DECODE_H
#define TS_XAPID_XMLRPC_DECODE_H

#include <stddef.h>

#include "xapid/rpc_value.h"

/* XAPI refuses RPC bodies above 300 KiB; so do we. */
#define RPC_MAX_REQUEST_SIZE (300 * 1024)
/* Containers (arrays and structs) nested in one value, at most. */
#define RPC_MAX_DEPTH 64

struct xmlrpc_decoder;

/* Incremental decoding of a <methodCall>, for bodies that arrive in pieces.  MAX_SIZE bounds
 * the total input (0: RPC_MAX_REQUEST_SIZE).  Returns NULL on ENOMEM. */
struct xmlrpc_decoder *xmlrpc_decoder_new(size_t max_size);
/* Feeds LEN bytes.  Returns 0, or the (sticky) error; decoding stops at the first error. */
int xmlrpc_decoder_feed(struct xmlrpc_decoder *d, const char *buf, size_t len);
/* Ends the input.  On success *OUT is the call (caller frees with rpc_call_free); on error
 * *OUT is NULL and, if ERRMSG is not NULL, *ERRMSG a message (caller frees). */
int xmlrpc_decoder_finish(struct xmlrpc_decoder *d, struct rpc_call **out, char **errmsg);
void xmlrpc_decoder_free(struct xmlrpc_decoder *d); /* NULL is fine */

/* One-shot decoding of a whole <methodCall> body (at most RPC_MAX_REQUEST_SIZE bytes). */
int xmlrpc_decode_call(const char *buf, size_t len, struct rpc_call **out, char **errmsg);
/* Decodes a document whose root is one <value>…</value> (task.result); no size limit beyond
 * the parser's own.  *OUT: caller frees with rpc_value_free. */
int xmlrpc_decode_value(const char *buf, size_t len, struct rpc_value **out, char **errmsg);

#endif
