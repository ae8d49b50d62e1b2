/* libFuzzer target: the XML-RPC decoder (whole call, split in two pieces, and a bare value),
 * then the writer on whatever decoded, in every output format. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xmlrpc_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_all(const struct rpc_call *c)
{
        static const enum rpcw_format fmts[] = {RPCW_XMLRPC, RPCW_JSONRPC, RPCW_XML_FRAGMENT};
        struct evbuffer *out = evbuffer_new();
        if (!out)
                return;
        for (size_t f = 0; f < 3; f++) {
                struct rpc_writer w;
                rpcw_init(&w, fmts[f], out);
                rpcw_set_json(&w, 1 + (int)(c->n_params % 2), "1");
                rpcw_begin(&w);
                rpcw_array_begin(&w);
                for (size_t i = 0; i < c->n_params; i++)
                        rpcw_value(&w, c->params[i]);
                rpcw_array_end(&w);
                rpcw_end(&w);
                evbuffer_drain(out, evbuffer_get_length(out));
        }
        evbuffer_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        struct rpc_call *c = NULL;
        char *msg = NULL;
        if (xmlrpc_decode_call(buf, size, &c, &msg) == 0)
                write_all(c);
        rpc_call_free(c);
        free(msg);

        /* The same input fed in two pieces must decode the same way. */
        struct xmlrpc_decoder *d = xmlrpc_decoder_new(0);
        if (d) {
                xmlrpc_decoder_feed(d, buf, size / 2);
                xmlrpc_decoder_feed(d, buf + size / 2, size - size / 2);
                struct rpc_call *c2 = NULL;
                char *msg2 = NULL;
                xmlrpc_decoder_finish(d, &c2, &msg2);
                rpc_call_free(c2);
                free(msg2);
                xmlrpc_decoder_free(d);
        }

        /* As a stored task result, converted to JSON. */
        struct evbuffer *out = evbuffer_new();
        if (out) {
                struct rpc_writer w;
                rpcw_init(&w, RPCW_JSONRPC, out);
                rpcw_begin(&w);
                if (rpcw_raw_xml_value(&w, buf, size) < 0)
                        rpcw_nil(&w);
                rpcw_end(&w);
                evbuffer_free(out);
        }
        return 0;
}
