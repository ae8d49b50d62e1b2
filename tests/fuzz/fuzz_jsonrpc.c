/* libFuzzer target: the JSON-RPC decoder, then the writer on whatever decoded, in every
 * output format, and a failure response carrying the decoded strings. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "common/err.h"
#include "xapid/jsonrpc_decode.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct rpc_call *c = NULL;
        char *msg = NULL;
        if (jsonrpc_decode_call((const char *)data, size, &c, &msg) != 0) {
                free(msg);
                return 0;
        }
        struct evbuffer *out = evbuffer_new();
        if (!out)
                goto done;
        static const enum rpcw_format fmts[] = {RPCW_XMLRPC, RPCW_JSONRPC, RPCW_XML_FRAGMENT};
        for (size_t f = 0; f < 3; f++) {
                struct rpc_writer w;
                rpcw_init(&w, fmts[f], out);
                rpcw_set_json(&w, c->json_version, c->json_id);
                rpcw_begin(&w);
                rpcw_array_begin(&w);
                for (size_t i = 0; i < c->n_params; i++)
                        rpcw_value(&w, c->params[i]);
                rpcw_array_end(&w);
                rpcw_end(&w);

                struct api_error e = {0};
                const char *p[API_ERROR_MAX_PARAMS];
                size_t n = 0;
                for (size_t i = 0; i < c->n_params && n < API_ERROR_MAX_PARAMS; i++)
                        if (c->params[i]->type == RPC_STRING)
                                p[n++] = c->params[i]->u.str.s;
                api_error_setv(&e, c->method, p, n);
                rpcw_failure(&w, &e);
                api_error_clear(&e);
                evbuffer_drain(out, evbuffer_get_length(out));
        }
        evbuffer_free(out);
done:
        rpc_call_free(c);
        return 0;
}
