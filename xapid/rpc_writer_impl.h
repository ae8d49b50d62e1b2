/* Internals shared by the rpc_writer sources: staging-buffer output and text encoders.
 * Not for use outside xapid/rpc_writer*.c. */
#ifndef TS_XAPID_RPC_WRITER_IMPL_H
#define TS_XAPID_RPC_WRITER_IMPL_H

#include <string.h>

#include "xapid/rpc_writer.h"

void rpcw_put_slow(struct rpc_writer *w, const char *s, size_t n);

static inline void rpcw_put(struct rpc_writer *w, const char *s, size_t n)
{
        if (n <= RPCW_BUF_SIZE - w->blen) {
                memcpy(w->buf + w->blen, s, n);
                w->blen += n;
        } else {
                rpcw_put_slow(w, s, n);
        }
}

/* A string literal. */
#define RPCW_PUTS(w, lit) rpcw_put((w), (lit), sizeof(lit) - 1)

/* Escaped string contents (no quotes or tags around them). */
void rpcw_put_xml_text(struct rpc_writer *w, const char *s, size_t len);
void rpcw_put_json_text(struct rpc_writer *w, const char *s, size_t len);

/* Length of the valid UTF-8 sequence at S (2 to 4 bytes; at most N), 0 if invalid.  The
 * caller handles ASCII. */
size_t rpcw_utf8_seq(const unsigned char *s, size_t n);

/* Writes XML verbatim as one value, with the structure bookkeeping of any value. */
void rpcw_raw_xml_verbatim(struct rpc_writer *w, const char *xml, size_t len);

/* Number texts into BUF (at least 32 bytes); return their length. */
size_t rpcw_fmt_int(char *buf, int64_t v);
size_t rpcw_fmt_double(char *buf, double d, bool json);
size_t rpcw_fmt_datetime(char *buf, time_t t);

#endif
