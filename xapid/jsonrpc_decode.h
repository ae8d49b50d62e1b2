/* JSON-RPC request decoder (jansson): {"method": …, "params": […], "id": …} into struct
 * rpc_call, following XAPI's rules (xapi-rpc's jsonrpc.ml):
 *   - "jsonrpc": "2.0" → version 2; absent (or "1.0") → version 1; anything else is refused;
 *   - "method" must be a string;
 *   - "params" must be an array (version 2 also allows it absent or null: no parameters);
 *     named parameters (an object) are refused;
 *   - "id" may be an integer, a string, null or absent (json_id "null"); others are refused.
 *     Its raw JSON text is kept in call->json_id for the reply;
 *   - batches (a top-level array) are refused: XAPI does not support them.
 * Values: integers → RPC_INT (int64; larger is an error), reals → RPC_DOUBLE, strings →
 * RPC_STRING (valid UTF-8 without NUL, jansson checks), true/false → RPC_BOOL, null →
 * RPC_NIL, arrays → RPC_ARRAY, objects → RPC_STRUCT in document order.  Duplicate object keys
 * are refused (jansson cannot keep them).  Nesting is limited to RPC_MAX_DEPTH containers
 * inside one parameter, the body to RPC_MAX_REQUEST_SIZE bytes.
 *
 * Returns 0, or -EINVAL (malformed), -E2BIG (too large or too deep), -ENOMEM; on error
 * *ERRMSG (if ERRMSG is not NULL) is a message for humans, caller frees. */
#ifndef TS_XAPID_JSONRPC_DECODE_H
#define TS_XAPID_JSONRPC_DECODE_H

#include <stddef.h>

#include "xapid/rpc_value.h"
#include "xapid/xmlrpc_decode.h" /* RPC_MAX_REQUEST_SIZE, RPC_MAX_DEPTH */

/* *OUT: caller frees with rpc_call_free. */
int jsonrpc_decode_call(const char *buf, size_t len, struct rpc_call **out, char **errmsg);

#endif
