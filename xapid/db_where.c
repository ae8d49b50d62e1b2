/* get_all_records_where: XAPI's db_filter language and the streaming record cursor.
 *   expr  := value "=" value | expr "and" expr | expr "or" expr | "not" expr
 *          | "true" | "false" | "(" expr ")"
 *   value := "\"" chars "\"" (literal) | "field" "\"" name "\""
 * and/or are left-associative with equal precedence, not binds tightest (as XAPI's yacc
 * grammar).  A field name "f/key" reads key of map field f ("" if absent).  Values compare
 * as the database text of the field (model_slot_to_text). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xapid/db.h"
#include "xapid/rpc_writer.h"

enum ekind { E_TRUE, E_FALSE, E_NOT, E_AND, E_OR, E_EQ };

struct db_val {
        bool field;
        char *s;
};

struct db_expr {
        enum ekind k;
        struct db_expr *a, *b;
        struct db_val x, y;
};

struct lexer {
        const char *p;
        char *err;
};

enum tok { T_EOF, T_EQ, T_TRUE, T_FALSE, T_LP, T_RP, T_FIELD, T_AND, T_OR, T_NOT, T_IDENT, T_BAD };

static enum tok next(struct lexer *l, char **ident)
{
        while (*l->p == ' ' || *l->p == '\t' || *l->p == '\n')
                l->p++;
        static const struct {
                const char *w;
                enum tok t;
        } kw[] = {{"true", T_TRUE}, {"false", T_FALSE}, {"field", T_FIELD},
                  {"and", T_AND},   {"or", T_OR},       {"not", T_NOT}};
        if (!*l->p)
                return T_EOF;
        if (*l->p == '=')
                return l->p++, T_EQ;
        if (*l->p == '(')
                return l->p++, T_LP;
        if (*l->p == ')')
                return l->p++, T_RP;
        if (*l->p == '"') {
                const char *e = strchr(l->p + 1, '"');
                if (!e)
                        return T_BAD;
                *ident = strndup(l->p + 1, (size_t)(e - l->p - 1));
                l->p = e + 1;
                return T_IDENT;
        }
        for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
                if (!strncmp(l->p, kw[i].w, strlen(kw[i].w))) {
                        l->p += strlen(kw[i].w);
                        return kw[i].t;
                }
        return T_BAD;
}

/* Consumes one token whose text is not wanted (an identifier's copy is freed). */
static enum tok skip(struct lexer *l)
{
        char *id = NULL;
        enum tok t = next(l, &id);
        free(id);
        return t;
}

static enum tok peek(struct lexer *l)
{
        struct lexer c = *l;
        char *id = NULL;
        enum tok t = next(&c, &id);
        free(id);
        return t;
}

static struct db_expr *enew(enum ekind k)
{
        struct db_expr *e = calloc(1, sizeof(*e));
        if (!e)
                abort();
        e->k = k;
        return e;
}

void db_expr_free(struct db_expr *e)
{
        if (!e)
                return;
        db_expr_free(e->a);
        db_expr_free(e->b);
        free(e->x.s);
        free(e->y.s);
        free(e);
}

static int parse_value(struct lexer *l, struct db_val *v)
{
        char *id = NULL;
        enum tok t = next(l, &id);
        if (t == T_FIELD) {
                v->field = true;
                t = next(l, &id);
        }
        if (t != T_IDENT) {
                free(id);
                return -EINVAL;
        }
        v->s = id;
        return 0;
}

static struct db_expr *parse_expr(struct lexer *l);

static struct db_expr *parse_atom(struct lexer *l)
{
        switch (peek(l)) {
        case T_TRUE:
                skip(l);
                return enew(E_TRUE);
        case T_FALSE:
                skip(l);
                return enew(E_FALSE);
        case T_NOT: {
                skip(l);
                struct db_expr *a = parse_atom(l);
                if (!a)
                        return NULL;
                struct db_expr *e = enew(E_NOT);
                e->a = a;
                return e;
        }
        case T_LP: {
                skip(l);
                struct db_expr *e = parse_expr(l);
                if (!e || skip(l) != T_RP) {
                        db_expr_free(e);
                        return NULL;
                }
                return e;
        }
        default: {
                struct db_expr *e = enew(E_EQ);
                if (parse_value(l, &e->x) < 0 || skip(l) != T_EQ || parse_value(l, &e->y) < 0) {
                        db_expr_free(e);
                        return NULL;
                }
                return e;
        }
        }
}

static struct db_expr *parse_expr(struct lexer *l)
{
        struct db_expr *e = parse_atom(l);
        while (e) {
                enum tok t = peek(l);
                if (t != T_AND && t != T_OR)
                        break;
                skip(l);
                struct db_expr *b = parse_atom(l);
                if (!b) {
                        db_expr_free(e);
                        return NULL;
                }
                struct db_expr *n = enew(t == T_AND ? E_AND : E_OR);
                n->a = e;
                n->b = b;
                e = n;
        }
        return e;
}

int db_expr_parse(const char *text, struct db_expr **out, char **errmsg)
{
        struct lexer l = {text, NULL};
        struct db_expr *e = parse_expr(&l);
        if (e && skip(&l) == T_EOF) {
                *out = e;
                return 0;
        }
        db_expr_free(e);
        if (errmsg &&
            asprintf(errmsg, "Parsing.Parse_error at offset %zu", (size_t)(l.p - text)) < 0)
                *errmsg = NULL;
        return -EINVAL;
}

/* The text of V on ROW; NULL (-ENOENT) for an unknown field.  Caller frees. */
static char *value_text(const struct db_val *v, const struct db_row *row, int *err)
{
        if (!v->field)
                return strdup(v->s);
        const char *slash = strchr(v->s, '/');
        size_t len = slash ? (size_t)(slash - v->s) : strlen(v->s);
        for (int i = 0; i < row->cls->n_fields; i++) {
                const struct mfield *f = &row->cls->fields[i];
                if (strlen(f->name) != len || strncmp(f->name, v->s, len))
                        continue;
                void *slot = model_slot(row->rec, f);
                if (!slash)
                        return model_slot_to_text(f->type, slot);
                if (f->type->kind != MT_MAP)
                        break;
                const struct mmap *m = slot;
                for (size_t k = 0; k < m->n; k++) {
                        char *kt = model_slot_to_text(f->type->key,
                                                      model_elem_slot(f->type->key, &m->k[k]));
                        int same = !strcmp(kt, slash + 1);
                        free(kt);
                        if (same)
                                return model_slot_to_text(f->type->val,
                                                          model_elem_slot(f->type->val, &m->v[k]));
                }
                return strdup("");
        }
        *err = -ENOENT;
        return NULL;
}

int db_expr_eval(const struct db_expr *e, const struct db_row *row)
{
        int r, s;
        switch (e->k) {
        case E_TRUE:
                return 1;
        case E_FALSE:
                return 0;
        case E_NOT:
                r = db_expr_eval(e->a, row);
                return r < 0 ? r : !r;
        case E_AND:
                r = db_expr_eval(e->a, row);
                if (r <= 0)
                        return r;
                return db_expr_eval(e->b, row);
        case E_OR:
                r = db_expr_eval(e->a, row);
                if (r != 0)
                        return r;
                return db_expr_eval(e->b, row);
        case E_EQ: {
                int err = 0;
                char *a = value_text(&e->x, row, &err);
                char *b = value_text(&e->y, row, &err);
                s = err ? err : (a && b && !strcmp(a, b));
                free(a);
                free(b);
                return s;
        }
        }
        return -EINVAL;
}

struct db_cursor {
        struct db *db;
        const struct mclass *cls;
        struct db_expr *filter;
        char **refs;
        size_t n, pos;
};

struct db_cursor *db_cursor_new(struct db *db, const struct mclass *c, struct db_expr *filter)
{
        struct db_cursor *cur = calloc(1, sizeof(*cur));
        if (!cur)
                abort();
        cur->db = db;
        cur->cls = c;
        cur->filter = filter;
        cur->n = db_count(db, c);
        cur->refs = calloc(cur->n ? cur->n : 1, sizeof(char *));
        if (!cur->refs)
                abort();
        for (size_t i = 0; i < cur->n; i++) {
                cur->refs[i] = strdup(db_row_at(db, c, i)->ref);
                if (!cur->refs[i])
                        abort();
        }
        return cur;
}

int db_cursor_step(struct db_cursor *cur, struct rpc_writer *w, size_t max)
{
        size_t done = 0;
        while (cur->pos < cur->n && done < max) {
                struct db_row *row = db_get(cur->db, cur->cls, cur->refs[cur->pos++]);
                if (!row || (cur->filter && db_expr_eval(cur->filter, row) != 1))
                        continue;
                rpcw_member(w, row->ref);
                model_record_write(w, row->cls, row->rec);
                done++;
        }
        return cur->pos < cur->n;
}

void db_cursor_free(struct db_cursor *cur)
{
        if (!cur)
                return;
        for (size_t i = 0; i < cur->n; i++)
                free(cur->refs[i]);
        free(cur->refs);
        db_expr_free(cur->filter);
        free(cur);
}
