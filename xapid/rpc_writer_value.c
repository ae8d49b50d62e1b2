/* Writing decoded value trees and stored XML fragments through the RPC writer. */
#include <errno.h>

#include "xapid/rpc_value.h"
#include "xapid/rpc_writer_impl.h"
#include "xapid/xmlrpc_decode.h"
#include "xapid/xmlrpc_scalar.h"

int rpcw_value(struct rpc_writer *w, const struct rpc_value *v)
{
        if (w->err)
                return w->err;
        if (!v) {
                rpcw_nil(w);
                return w->err;
        }
        switch (v->type) {
        case RPC_NIL:
                rpcw_nil(w);
                break;
        case RPC_STRING:
                if (v->is_datetime)
                        rpcw_datetime_str(w, v->u.str.s);
                else
                        rpcw_string_n(w, v->u.str.s, v->u.str.len);
                break;
        case RPC_INT:
                rpcw_int(w, v->u.i);
                break;
        case RPC_DOUBLE:
                rpcw_double(w, v->u.d);
                break;
        case RPC_BOOL:
                rpcw_bool(w, v->u.b);
                break;
        case RPC_ARRAY:
                rpcw_array_begin(w);
                for (size_t i = 0; i < v->u.arr.n && !w->err; i++)
                        rpcw_value(w, v->u.arr.items[i]);
                rpcw_array_end(w);
                break;
        case RPC_STRUCT:
                rpcw_struct_begin(w);
                for (size_t i = 0; i < v->u.st.n && !w->err; i++) {
                        rpcw_member(w, v->u.st.keys[i]);
                        rpcw_value(w, v->u.st.vals[i]);
                }
                rpcw_struct_end(w);
                break;
        }
        return w->err;
}

int rpcw_raw_xml_value(struct rpc_writer *w, const char *xml, size_t len)
{
        if (!xml)
                return -EINVAL;
        if (w->format != RPCW_JSONRPC) {
                /* Verbatim; a light check that it is a <value> at all. */
                size_t i = 0;
                while (i < len && xmlrpc_is_space(xml[i]))
                        i++;
                if (len - i < 6 || memcmp(xml + i, "<value", 6) != 0)
                        return -EINVAL;
                rpcw_raw_xml_verbatim(w, xml, len);
                return 0;
        }
        struct rpc_value *v;
        int r = xmlrpc_decode_value(xml, len, &v, NULL);
        if (r < 0)
                return -EINVAL;
        rpcw_value(w, v);
        rpc_value_free(v);
        return 0;
}
