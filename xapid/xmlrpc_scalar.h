/* Text of XML-RPC scalar elements to values: strict parsers used by the XML-RPC decoder.
 * Each returns 0 or a negative errno (-EINVAL malformed, -ERANGE out of range); leading and
 * trailing XML whitespace (space, tab, CR, LF) is ignored, as clients pretty-print. */
#ifndef TS_XAPID_XMLRPC_SCALAR_H
#define TS_XAPID_XMLRPC_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Optional sign and decimal digits, within int64. */
int xmlrpc_parse_int(const char *s, size_t len, int64_t *out);
/* What strtod accepts, the whole text, nothing else. */
int xmlrpc_parse_double(const char *s, size_t len, double *out);
/* "0" or "1". */
int xmlrpc_parse_bool(const char *s, size_t len, bool *out);
/* Standard base64 (RFC 4648 alphabet, '=' padding); whitespace anywhere is skipped, as MIME
 * line breaks are common.  *OUT is malloc'd, NUL-terminated, its length in *OUTLEN.
 * -EINVAL also when the decoded bytes contain a NUL (strings cannot carry one). */
int xmlrpc_base64_decode(const char *s, size_t len, char **out, size_t *outlen);

bool xmlrpc_is_space(char c);

#endif
