/* libFuzzer target: xe's XML-RPC response parser on any bytes, then the request writer on
 * whatever parsed (as a parameter), so both sides see hostile values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli/xe_xmlrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct xv *v = NULL;
        char *err = NULL;
        if (xe_xmlrpc_response((const char *)data, size, &v, &err) == 0) {
                size_t len;
                struct xv *copy = xv_copy(v);
                free(xe_xmlrpc_request("fuzz", &copy, 1, &len));
                xv_free(copy);
        }
        xv_free(v);
        free(err);
        return 0;
}
