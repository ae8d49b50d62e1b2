/* The journal's row encoding (format described in db_codec.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "xapid/db_codec.h"

LOG_MODULE(db_codec);

enum {
        TAG_STRING = 's',
        TAG_INT = 'i',
        TAG_DATETIME = 't',
        TAG_FLOAT = 'f',
        TAG_BOOL = 'b',
        TAG_ENUM = 'e',
        TAG_SET = 'S',
        TAG_MAP = 'M',
};

/* ---- encoding ------------------------------------------------------------------------ */

struct wbuf {
        uint8_t *p;
        size_t n, cap;
        bool oom;
};

static void put(struct wbuf *w, const void *data, size_t len)
{
        if (w->oom)
                return;
        if (w->n + len > w->cap) {
                size_t cap = w->cap ? w->cap : 256;
                while (cap < w->n + len)
                        cap *= 2;
                uint8_t *p = realloc(w->p, cap);
                if (!p) {
                        w->oom = true;
                        return;
                }
                w->p = p;
                w->cap = cap;
        }
        memcpy(w->p + w->n, data, len);
        w->n += len;
}

static void put_byte(struct wbuf *w, uint8_t b)
{
        put(w, &b, 1);
}

static void put_varint(struct wbuf *w, uint64_t v)
{
        uint8_t b[10];
        size_t n = 0;
        do {
                b[n] = v & 0x7f;
                v >>= 7;
                if (v)
                        b[n] |= 0x80;
                n++;
        } while (v);
        put(w, b, n);
}

static void put_svarint(struct wbuf *w, int64_t v)
{
        put_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); /* zigzag */
}

static void put_str(struct wbuf *w, const char *s)
{
        size_t len = s ? strlen(s) : 0;
        put_varint(w, len);
        put(w, s, len);
}

static void encode_value(struct wbuf *w, const struct mtype *t, const void *slot)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                put_byte(w, TAG_STRING);
                put_str(w, *(char *const *)slot);
                break;
        case MT_INT:
                put_byte(w, TAG_INT);
                put_svarint(w, *(const int64_t *)slot);
                break;
        case MT_DATETIME:
                put_byte(w, TAG_DATETIME);
                put_svarint(w, (int64_t) * (const time_t *)slot);
                break;
        case MT_FLOAT: {
                uint64_t bits;
                uint8_t b[8];
                memcpy(&bits, slot, sizeof(bits));
                for (int i = 0; i < 8; i++)
                        b[i] = (uint8_t)(bits >> (8 * i));
                put_byte(w, TAG_FLOAT);
                put(w, b, sizeof(b));
                break;
        }
        case MT_BOOL:
                put_byte(w, TAG_BOOL);
                put_byte(w, *(const bool *)slot ? 1 : 0);
                break;
        case MT_ENUM: {
                int e = *(const int *)slot;
                put_byte(w, TAG_ENUM);
                put_str(w, e >= 0 && e < t->en->n ? t->en->values[e] : "");
                break;
        }
        case MT_SET: {
                const struct mset *s = slot;
                put_byte(w, TAG_SET);
                put_varint(w, s->n);
                for (size_t i = 0; i < s->n; i++)
                        encode_value(w, t->elem, model_elem_slot(t->elem, &s->v[i]));
                break;
        }
        case MT_MAP: {
                const struct mmap *m = slot;
                put_byte(w, TAG_MAP);
                put_varint(w, m->n);
                for (size_t i = 0; i < m->n; i++) {
                        encode_value(w, t->key, model_elem_slot(t->key, &m->k[i]));
                        encode_value(w, t->val, model_elem_slot(t->val, &m->v[i]));
                }
                break;
        }
        default:
                /* records/opaque values are never stored in a row */
                break;
        }
}

static bool stored(const struct mfield *f)
{
        switch (f->type->kind) {
        case MT_VOID:
        case MT_RECORD:
        case MT_OPAQUE:
                return false;
        default:
                return !f->is_derived;
        }
}

int db_codec_encode(const struct mclass *c, const void *rec, uint8_t **out, size_t *len)
{
        struct wbuf w = {0};
        put_byte(&w, DB_CODEC_VERSION);
        for (int i = 0; i < c->n_fields; i++) {
                const struct mfield *f = &c->fields[i];
                if (!stored(f))
                        continue;
                put_str(&w, f->name);
                encode_value(&w, f->type, model_slot((void *)rec, f));
        }
        if (w.oom) {
                free(w.p);
                return -ENOMEM;
        }
        *out = w.p;
        *len = w.n;
        return 0;
}

/* ---- decoding ------------------------------------------------------------------------ */

struct rbuf {
        const uint8_t *p, *end;
};

static int get_varint(struct rbuf *r, uint64_t *v)
{
        uint64_t x = 0;
        for (int shift = 0; shift < 64; shift += 7) {
                if (r->p >= r->end)
                        return -EBADMSG;
                uint8_t b = *r->p++;
                x |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *v = x;
                        return 0;
                }
        }
        return -EBADMSG;
}

static int get_svarint(struct rbuf *r, int64_t *v)
{
        uint64_t u;
        int e = get_varint(r, &u);
        if (e < 0)
                return e;
        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return 0;
}

/* A length-prefixed byte string, borrowed from the blob. */
static int get_bytes(struct rbuf *r, const char **s, size_t *len)
{
        uint64_t n;
        int e = get_varint(r, &n);
        if (e < 0)
                return e;
        if (n > (uint64_t)(r->end - r->p))
                return -EBADMSG;
        *s = (const char *)r->p;
        *len = (size_t)n;
        r->p += n;
        return 0;
}

static int get_byte(struct rbuf *r, uint8_t *b)
{
        if (r->p >= r->end)
                return -EBADMSG;
        *b = *r->p++;
        return 0;
}

/* Skips one value whose tag was read already. */
static int skip_value(struct rbuf *r, uint8_t tag)
{
        const char *s;
        size_t len;
        uint64_t n;
        int64_t i;
        uint8_t b;
        int e;
        switch (tag) {
        case TAG_STRING:
        case TAG_ENUM:
                return get_bytes(r, &s, &len);
        case TAG_INT:
        case TAG_DATETIME:
                return get_svarint(r, &i);
        case TAG_FLOAT:
                if (r->end - r->p < 8)
                        return -EBADMSG;
                r->p += 8;
                return 0;
        case TAG_BOOL:
                return get_byte(r, &b);
        case TAG_SET:
        case TAG_MAP:
                if ((e = get_varint(r, &n)) < 0)
                        return e;
                if (tag == TAG_MAP)
                        n *= 2;
                for (uint64_t k = 0; k < n; k++)
                        if ((e = get_byte(r, &b)) < 0 || (e = skip_value(r, b)) < 0)
                                return e;
                return 0;
        default:
                return -EBADMSG;
        }
}

static char *dup_bytes(const char *s, size_t len)
{
        char *p = malloc(len + 1);
        if (!p)
                abort();
        memcpy(p, s, len);
        p[len] = 0;
        return p;
}

static uint8_t expected_tag(const struct mtype *t)
{
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                return TAG_STRING;
        case MT_INT:
                return TAG_INT;
        case MT_DATETIME:
                return TAG_DATETIME;
        case MT_FLOAT:
                return TAG_FLOAT;
        case MT_BOOL:
                return TAG_BOOL;
        case MT_ENUM:
                return TAG_ENUM;
        case MT_SET:
                return TAG_SET;
        case MT_MAP:
                return TAG_MAP;
        default:
                return 0;
        }
}

/* Decodes one tagged value into the empty SLOT of type T.  A value that does not fit T
 * is consumed and sets *MISMATCH (the caller then discards the slot).  Returns 0 or
 * -EBADMSG. */
static int decode_value(struct rbuf *r, const struct mtype *t, void *slot, bool *mismatch)
{
        uint8_t tag;
        int e = get_byte(r, &tag);
        if (e < 0)
                return e;
        if (tag != expected_tag(t)) {
                *mismatch = true;
                return skip_value(r, tag);
        }
        const char *s;
        size_t len;
        uint64_t n;
        switch (t->kind) {
        case MT_STRING:
        case MT_REF:
                if ((e = get_bytes(r, &s, &len)) < 0)
                        return e;
                *(char **)slot = dup_bytes(s, len);
                return 0;
        case MT_INT:
                return get_svarint(r, slot);
        case MT_DATETIME: {
                int64_t v;
                if ((e = get_svarint(r, &v)) < 0)
                        return e;
                *(time_t *)slot = (time_t)v;
                return 0;
        }
        case MT_FLOAT: {
                if (r->end - r->p < 8)
                        return -EBADMSG;
                uint64_t bits = 0;
                for (int i = 0; i < 8; i++)
                        bits |= (uint64_t)r->p[i] << (8 * i);
                r->p += 8;
                memcpy(slot, &bits, sizeof(bits));
                return 0;
        }
        case MT_BOOL: {
                uint8_t b;
                if ((e = get_byte(r, &b)) < 0)
                        return e;
                *(bool *)slot = b != 0;
                return 0;
        }
        case MT_ENUM: {
                if ((e = get_bytes(r, &s, &len)) < 0)
                        return e;
                int v = -1;
                for (int i = 0; i < t->en->n; i++)
                        if (strncmp(t->en->values[i], s, len) == 0 && t->en->values[i][len] == 0) {
                                v = i;
                                break;
                        }
                if (v < 0)
                        *mismatch = true;
                else
                        *(int *)slot = v;
                return 0;
        }
        case MT_SET: {
                struct mset *set = slot;
                if ((e = get_varint(r, &n)) < 0)
                        return e;
                /* every element takes at least two bytes: bounds the allocation */
                if (n > (uint64_t)(r->end - r->p))
                        return -EBADMSG;
                set->v = calloc(n ? n : 1, sizeof(union mval));
                if (!set->v)
                        abort();
                set->n = n; /* zeroed elements free cleanly on failure */
                for (size_t i = 0; i < n; i++)
                        if ((e = decode_value(r, t->elem, model_elem_slot(t->elem, &set->v[i]),
                                              mismatch)) < 0)
                                return e;
                return 0;
        }
        case MT_MAP: {
                struct mmap *m = slot;
                if ((e = get_varint(r, &n)) < 0)
                        return e;
                if (n > (uint64_t)(r->end - r->p))
                        return -EBADMSG;
                m->k = calloc(n ? n : 1, sizeof(union mval));
                m->v = calloc(n ? n : 1, sizeof(union mval));
                if (!m->k || !m->v)
                        abort();
                m->n = n;
                for (size_t i = 0; i < n; i++) {
                        if ((e = decode_value(r, t->key, model_elem_slot(t->key, &m->k[i]),
                                              mismatch)) < 0 ||
                            (e = decode_value(r, t->val, model_elem_slot(t->val, &m->v[i]),
                                              mismatch)) < 0)
                                return e;
                }
                return 0;
        }
        default:
                return -EBADMSG;
        }
}

/* Does field F have exactly the LEN bytes of NAME (which may hold any bytes, NULs too)? */
static bool field_is(const struct mfield *f, const char *name, size_t len)
{
        return strlen(f->name) == len && memcmp(f->name, name, len) == 0;
}

/* Field lookup by name: fields usually come in IDL order, so try the one after the
 * previous match before scanning. */
static int find_field(const struct mclass *c, const char *name, size_t len, int hint)
{
        if (hint >= 0 && hint < c->n_fields && field_is(&c->fields[hint], name, len))
                return hint;
        for (int i = 0; i < c->n_fields; i++)
                if (field_is(&c->fields[i], name, len))
                        return i;
        return -1;
}

int db_codec_decode(const struct mclass *c, const uint8_t *blob, size_t len, void **out)
{
        struct rbuf r = {blob, blob + len};
        uint8_t version;
        if (get_byte(&r, &version) < 0 || version != DB_CODEC_VERSION)
                return -EBADMSG;
        void *rec = model_record_new(c);
        int hint = 0, e = 0;
        while (r.p < r.end) {
                const char *name;
                size_t nlen;
                if ((e = get_bytes(&r, &name, &nlen)) < 0)
                        break;
                int fi = find_field(c, name, nlen, hint);
                if (fi < 0 || !stored(&c->fields[fi])) {
                        uint8_t tag;
                        if ((e = get_byte(&r, &tag)) < 0 || (e = skip_value(&r, tag)) < 0)
                                break;
                        log_debug("%s: ignoring stored field %.*s", c->name, (int)nlen, name);
                        continue;
                }
                hint = fi + 1;
                const struct mfield *f = &c->fields[fi];
                /* large enough for any slot; decoded aside so the default survives a
                 * mismatch */
                union {
                        struct mset s;
                        struct mmap m;
                        union mval v;
                        time_t t;
                } tmp;
                memset(&tmp, 0, sizeof(tmp));
                bool mismatch = false;
                e = decode_value(&r, f->type, &tmp, &mismatch);
                if (e < 0 || mismatch) {
                        model_slot_free(f->type, &tmp);
                        if (e < 0)
                                break;
                        log_debug("%s.%s: stored value does not fit the field, default kept",
                                  c->name, f->name);
                        continue;
                }
                void *dst = model_slot(rec, f);
                model_slot_free(f->type, dst);
                switch (f->type->kind) {
                case MT_SET:
                        memcpy(dst, &tmp, sizeof(struct mset));
                        break;
                case MT_MAP:
                        memcpy(dst, &tmp, sizeof(struct mmap));
                        break;
                case MT_STRING:
                case MT_REF:
                        memcpy(dst, &tmp, sizeof(char *));
                        break;
                case MT_INT:
                        memcpy(dst, &tmp, sizeof(int64_t));
                        break;
                case MT_DATETIME:
                        memcpy(dst, &tmp, sizeof(time_t));
                        break;
                case MT_FLOAT:
                        memcpy(dst, &tmp, sizeof(double));
                        break;
                case MT_BOOL:
                        memcpy(dst, &tmp, sizeof(bool));
                        break;
                case MT_ENUM:
                        memcpy(dst, &tmp, sizeof(int));
                        break;
                default:
                        break;
                }
        }
        if (e < 0) {
                model_record_free(c, rec);
                return e;
        }
        *out = rec;
        return 0;
}
