/* Subscriptions, tokens, and the read of the changes since a generation (event_internal.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "xapid/db.h"
#include "xapid/event_internal.h"
#include "xapid/model.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"

LOG_MODULE(event_sub)

#define MAX_CLASSES 64

static char *lower_names[MAX_CLASSES];

const char *ev_class_name(const struct mclass *c)
{
        if (c->id < 0 || c->id >= MAX_CLASSES)
                return c->name;
        if (lower_names[c->id] == NULL) {
                char *s = strdup(c->name);
                if (s == NULL)
                        abort();
                for (char *p = s; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                lower_names[c->id] = s; /* kept for the process' life */
        }
        return lower_names[c->id];
}

const struct mclass *ev_class_lookup(const char *name)
{
        for (int i = 0; i < api_n_classes && i < MAX_CLASSES; i++)
                if (api_classes[i]->table && strcasecmp(api_classes[i]->name, name) == 0)
                        return api_classes[i];
        return NULL;
}

static uint64_t bit(int cls)
{
        return cls >= 0 && cls < MAX_CLASSES ? UINT64_C(1) << cls : 0;
}

/* Parses TEXT into S (S->ref allocated). */
static int sub_parse(const char *text, struct ev_sub *s)
{
        s->ref = NULL;
        if (strcmp(text, "*") == 0) {
                s->cls = EV_CLS_ALL;
                return 0;
        }
        const char *slash = strchr(text, '/');
        size_t clen = slash != NULL ? (size_t)(slash - text) : strlen(text);
        if (clen == 0 || (slash != NULL && slash[1] == '\0'))
                return -EINVAL;
        char *cname = strndup(text, clen);
        if (cname == NULL)
                return -ENOMEM;
        const struct mclass *c = ev_class_lookup(cname);
        free(cname);
        s->cls = c != NULL ? c->id : EV_CLS_UNKNOWN;
        if (slash != NULL && (s->ref = strdup(slash + 1)) == NULL)
                return -ENOMEM;
        return 0;
}

static bool sub_equal(const struct ev_sub *a, const struct ev_sub *b)
{
        if (a->cls != b->cls || (a->ref == NULL) != (b->ref == NULL))
                return false;
        return a->ref == NULL || strcmp(a->ref, b->ref) == 0;
}

static void recompute(struct ev_subs *subs)
{
        subs->mask = 0;
        subs->all = false;
        for (size_t i = 0; i < subs->n; i++) {
                if (subs->v[i].cls == EV_CLS_ALL)
                        subs->all = true;
                subs->mask |= bit(subs->v[i].cls);
        }
}

static int parse_set(const struct rpc_value *set, struct ev_sub **out, size_t *n,
                     struct api_error *err)
{
        size_t cnt = set->type == RPC_ARRAY ? set->u.arr.n : 0;
        struct ev_sub *v = calloc(cnt + 1, sizeof(*v));
        if (v == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < cnt; i++) {
                const struct rpc_value *item = set->u.arr.items[i];
                const char *text = item->type == RPC_STRING ? item->u.str.s : "";
                int r = sub_parse(text, &v[i]);
                if (r < 0) {
                        for (size_t j = 0; j <= i; j++)
                                free(v[j].ref);
                        free(v);
                        if (r == -EINVAL)
                                api_error_set(err, "EVENT_SUBSCRIPTION_PARSE_FAILURE", text, NULL);
                        return r;
                }
        }
        *out = v;
        *n = cnt;
        return 0;
}

int ev_subs_parse(struct ev_subs *subs, const struct rpc_value *set, struct api_error *err)
{
        struct ev_sub *v;
        size_t n;
        int r = parse_set(set, &v, &n, err);
        if (r < 0)
                return r;
        struct ev_sub *all = realloc(subs->v, (subs->n + n + 1) * sizeof(*all));
        if (all == NULL) {
                for (size_t i = 0; i < n; i++)
                        free(v[i].ref);
                free(v);
                return -ENOMEM;
        }
        memcpy(all + subs->n, v, n * sizeof(*v));
        subs->v = all;
        subs->n += n;
        free(v);
        recompute(subs);
        return 0;
}

int ev_subs_remove(struct ev_subs *subs, const struct rpc_value *set, struct api_error *err)
{
        struct ev_sub *v;
        size_t n;
        int r = parse_set(set, &v, &n, err);
        if (r < 0)
                return r;
        size_t k = 0;
        for (size_t i = 0; i < subs->n; i++) {
                bool drop = false;
                for (size_t j = 0; j < n && !drop; j++)
                        drop = sub_equal(&subs->v[i], &v[j]);
                if (drop)
                        free(subs->v[i].ref);
                else
                        subs->v[k++] = subs->v[i];
        }
        subs->n = k;
        for (size_t j = 0; j < n; j++)
                free(v[j].ref);
        free(v);
        recompute(subs);
        return 0;
}

void ev_subs_clear(struct ev_subs *subs)
{
        for (size_t i = 0; i < subs->n; i++)
                free(subs->v[i].ref);
        free(subs->v);
        memset(subs, 0, sizeof(*subs));
}

bool ev_subs_wants(const struct ev_subs *subs, uint64_t mask)
{
        return mask != 0 && (subs->all || (subs->mask & mask) != 0);
}

static bool matches(const struct ev_subs *subs, const struct mclass *c, const char *ref)
{
        if (subs->all)
                return true;
        for (size_t i = 0; i < subs->n; i++)
                if (subs->v[i].cls == c->id &&
                    (subs->v[i].ref == NULL || strcmp(subs->v[i].ref, ref) == 0))
                        return true;
        return false;
}

/* Whether some subscription takes every object of C (else only named ones). */
static bool whole_class(const struct ev_subs *subs, const struct mclass *c)
{
        if (subs->all)
                return true;
        for (size_t i = 0; i < subs->n; i++)
                if (subs->v[i].cls == c->id && subs->v[i].ref == NULL)
                        return true;
        return false;
}

static bool wants_class(const struct ev_subs *subs, const struct mclass *c)
{
        return c->table && (subs->all || (subs->mask & bit(c->id)) != 0);
}

int ev_token_parse(const char *text, uint64_t *gen)
{
        if (text[0] == '\0') {
                *gen = 0;
                return 0;
        }
        const char *comma = strchr(text, ',');
        if (comma == NULL || comma == text || comma[1] == '\0' || strchr(comma + 1, ',') != NULL)
                return -EINVAL;
        for (const char *p = text; *p; p++)
                if (p != comma && !isdigit((unsigned char)*p))
                        return -EINVAL;
        if (comma - text > 20 || strlen(comma + 1) > 20)
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(text, NULL, 10);
        if (errno == ERANGE || v > INT64_MAX)
                return -EINVAL;
        *gen = v;
        return 0;
}

void ev_token_format(char buf[EV_TOKEN_LEN], uint64_t gen)
{
        snprintf(buf, EV_TOKEN_LEN, "%020" PRIu64 ",%020d", gen, 0);
}

static void push(struct ev_items *items, const struct ev_item *it)
{
        if (items->n == items->cap) {
                items->cap = items->cap ? items->cap * 2 : 16;
                items->v = realloc(items->v, items->cap * sizeof(*items->v));
                if (items->v == NULL)
                        abort();
        }
        items->v[items->n++] = *it;
}

static void consider_row(struct ev_items *items, const struct db_row *row, uint64_t since)
{
        struct ev_item it = {row->cls, row->ref, row, 0, EV_ADD};
        if (row->created > since) {
                it.gen = row->created;
        } else if (row->modified > since) {
                it.gen = row->modified;
                it.op = EV_MOD;
        } else {
                return;
        }
        push(items, &it);
}

struct del_ctx {
        struct ev_items *items;
        const struct ev_subs *subs;
        const struct mclass *cls;
        uint64_t since;
};

static void consider_deletion(const struct db_deletion *d, void *arg)
{
        struct del_ctx *c = arg;
        /* created and gone since the token: the client never knew of it */
        if (d->created > c->since || !matches(c->subs, c->cls, d->ref))
                return;
        struct ev_item it = {c->cls, d->ref, NULL, d->gen, EV_DEL};
        push(c->items, &it);
}

static int by_gen(const void *a, const void *b)
{
        uint64_t x = ((const struct ev_item *)a)->gen, y = ((const struct ev_item *)b)->gen;
        return x < y ? -1 : x > y;
}

void ev_collect(const struct db *db, const struct ev_subs *subs, uint64_t since,
                struct ev_items *out)
{
        out->n = 0;
        out->lost = false;
        if (since >= db_generation(db))
                return; /* nothing happened since */
        for (int i = 0; i < api_n_classes; i++) {
                const struct mclass *c = api_classes[i];
                if (!wants_class(subs, c))
                        continue;
                if (whole_class(subs, c)) {
                        size_t n = db_count(db, c);
                        for (size_t k = 0; k < n; k++)
                                consider_row(out, db_row_at(db, c, k), since);
                } else {
                        for (size_t s = 0; s < subs->n; s++) {
                                const struct ev_sub *sub = &subs->v[s];
                                bool dup = false;
                                for (size_t t = 0; t < s && !dup; t++)
                                        dup = sub_equal(sub, &subs->v[t]);
                                if (sub->cls != c->id || dup)
                                        continue;
                                const struct db_row *row = db_get(db, c, sub->ref);
                                if (row != NULL)
                                        consider_row(out, row, since);
                        }
                }
                struct del_ctx dc = {out, subs, c, since};
                if (!db_deletions_since(db, c, since, consider_deletion, &dc))
                        out->lost = true;
        }
        if (out->n > 1)
                qsort(out->v, out->n, sizeof(*out->v), by_gen);
}

void ev_items_free(struct ev_items *items)
{
        free(items->v);
        memset(items, 0, sizeof(*items));
}

static const char *const op_names[] = {"add", "mod", "del"};

void ev_write_event(struct rpc_writer *w, const struct ev_item *it, const char *timestamp)
{
        char id[24];
        snprintf(id, sizeof(id), "%" PRIu64, it->gen);
        rpcw_struct_begin(w);
        rpcw_member(w, "id");
        rpcw_string(w, id);
        rpcw_member(w, "timestamp");
        rpcw_string(w, timestamp);
        rpcw_member(w, "class");
        rpcw_string(w, ev_class_name(it->cls));
        rpcw_member(w, "operation");
        rpcw_string(w, op_names[it->op]);
        rpcw_member(w, "ref");
        rpcw_string(w, it->ref);
        if (it->row != NULL) {
                rpcw_member(w, "snapshot");
                model_record_write(w, it->cls, it->row->rec);
        }
        rpcw_struct_end(w);
}

void ev_write_batch(struct rpc_writer *w, const struct db *db, const struct ev_subs *subs,
                    const struct ev_items *items, uint64_t token_gen)
{
        rpcw_struct_begin(w);
        rpcw_member(w, "events");
        rpcw_array_begin(w);
        for (size_t i = 0; i < items->n; i++)
                ev_write_event(w, &items->v[i], "0.0"); /* XAPI's event.from sends "0.0" */
        rpcw_array_end(w);
        rpcw_member(w, "valid_ref_counts");
        rpcw_struct_begin(w);
        for (int i = 0; i < api_n_classes; i++) {
                const struct mclass *c = api_classes[i];
                if (!wants_class(subs, c))
                        continue;
                size_t n = db_count(db, c);
                rpcw_member(w, ev_class_name(c));
                rpcw_int32(w, n > INT32_MAX ? INT32_MAX : (int32_t)n);
        }
        rpcw_struct_end(w);
        rpcw_member(w, "token");
        char tok[EV_TOKEN_LEN];
        ev_token_format(tok, token_gen);
        rpcw_string(w, tok);
        rpcw_struct_end(w);
}
