/* Configuration files checked against a schema: see config.h for the syntax. */
#include "common/config.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

LOG_MODULE(config)

/* Longest line a config file may have; longer ones are an error, not truncated. */
#define CFG_MAX_LINE    8192
#define CFG_MAX_SECTION 128

struct cfg_value {
        bool set;
        char *text;   /* owned: the value as written, after unquoting */
        char *origin; /* owned: where it came from ("default", "file:line", "-o", "env X") */
        union {
                int64_t i;
                bool b;
                uint64_t size;
        } v;
};

struct cfg {
        const struct cfg_key *schema; /* borrowed */
        size_t n_keys;
        struct cfg_value *values; /* n_keys of them, parallel to schema */
        char **errors;            /* owned strings */
        size_t n_errors, cap_errors;
};

static void add_error(struct cfg *cfg, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(struct cfg *cfg, const char *origin, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (cfg->n_errors == cfg->cap_errors) {
                size_t cap = cfg->cap_errors ? cfg->cap_errors * 2 : 8;
                char **e = realloc(cfg->errors, cap * sizeof *e);
                if (e == NULL)
                        return; /* out of memory: the error count stays a lower bound */
                cfg->errors = e;
                cfg->cap_errors = cap;
        }
        char *s = NULL;
        if (asprintf(&s, "%s: %s", origin, msg) < 0)
                return;
        cfg->errors[cfg->n_errors++] = s;
}

/* ---- value parsers ---- */

int cfg_parse_int(const char *s, int64_t *out)
{
        if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
                return -EINVAL;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 0);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0' || end == s)
                return -EINVAL;
        *out = v;
        return 0;
}

int cfg_parse_bool(const char *s, bool *out)
{
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};
        if (s == NULL)
                return -EINVAL;
        for (size_t i = 0; i < 4; i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Parses the unsigned decimal number at the start of S; *END points after it. */
static int parse_number(const char *s, uint64_t *out, const char **end)
{
        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        uint64_t v = 0;
        while (isdigit((unsigned char)*s)) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
                s++;
        }
        *out = v;
        *end = s;
        return 0;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
        if (s == NULL)
                return -EINVAL;
        const char *p;
        uint64_t v;
        int r = parse_number(s, &v, &p);
        if (r < 0)
                return r;
        while (*p == ' ')
                p++;
        unsigned shift = 0;
        switch (toupper((unsigned char)*p)) {
        case '\0':
        case 'B':
                break;
        case 'K':
                shift = 10;
                break;
        case 'M':
                shift = 20;
                break;
        case 'G':
                shift = 30;
                break;
        case 'T':
                shift = 40;
                break;
        default:
                return -EINVAL;
        }
        if (shift != 0) {
                p++;
                /* K, KB, KiB all mean 1024 bytes. */
                if (*p == 'i')
                        p++;
                if (*p == 'B' || *p == 'b')
                        p++;
        } else if (*p != '\0') {
                p++; /* the lone "B" */
        }
        if (*p != '\0')
                return -EINVAL;
        if (shift != 0 && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *out = v << shift;
        return 0;
}

int cfg_parse_duration_ms(const char *s, int64_t *out)
{
        if (s == NULL)
                return -EINVAL;
        const char *p;
        uint64_t v;
        int r = parse_number(s, &v, &p);
        if (r < 0)
                return r;
        while (*p == ' ')
                p++;
        uint64_t mult;
        if (*p == '\0' || strcmp(p, "s") == 0 || strcmp(p, "sec") == 0)
                mult = 1000;
        else if (strcmp(p, "ms") == 0)
                mult = 1;
        else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0)
                mult = 60 * 1000;
        else if (strcmp(p, "h") == 0)
                mult = 3600 * 1000;
        else
                return -EINVAL;
        if (v > (uint64_t)INT64_MAX / mult)
                return -ERANGE;
        *out = (int64_t)(v * mult);
        return 0;
}

/* ---- schema and values ---- */

static const char *type_name(enum cfg_type t)
{
        switch (t) {
        case CFG_STRING:
                return "string";
        case CFG_INT:
                return "integer";
        case CFG_BOOL:
                return "boolean";
        case CFG_SIZE:
                return "size";
        case CFG_DURATION:
                return "duration";
        }
        return "?";
}

static long find_key(const struct cfg *cfg, const char *name)
{
        for (size_t i = 0; i < cfg->n_keys; i++)
                if (strcmp(cfg->schema[i].name, name) == 0)
                        return (long)i;
        return -1;
}

/* Parses TEXT for key K into VAL.  On failure, writes why into WHY and leaves VAL alone. */
static int parse_value(const struct cfg_key *k, const char *text, struct cfg_value *val, char *why,
                       size_t why_len)
{
        int64_t i = 0;
        uint64_t size = 0;
        bool b = false;
        int r = 0;
        bool ranged = k->min != 0 || k->max != 0;
        switch (k->type) {
        case CFG_STRING:
                break;
        case CFG_BOOL:
                r = cfg_parse_bool(text, &b);
                if (r < 0)
                        snprintf(why, why_len,
                                 "\"%s\" is not a boolean (yes/no, true/false, "
                                 "on/off, 1/0)",
                                 text);
                break;
        case CFG_INT:
                r = cfg_parse_int(text, &i);
                if (r < 0)
                        snprintf(why, why_len, "\"%s\" is not an integer%s", text,
                                 r == -ERANGE ? " (too large)" : "");
                break;
        case CFG_SIZE:
                r = cfg_parse_size(text, &size);
                if (r < 0)
                        snprintf(why, why_len, "\"%s\" is not a size (e.g. 512, 64K, 10M, 2G)%s",
                                 text, r == -ERANGE ? " (too large)" : "");
                else if (size > INT64_MAX) {
                        snprintf(why, why_len, "\"%s\" is too large", text);
                        r = -ERANGE;
                }
                i = (int64_t)size;
                break;
        case CFG_DURATION:
                r = cfg_parse_duration_ms(text, &i);
                if (r < 0)
                        snprintf(why, why_len,
                                 "\"%s\" is not a duration (e.g. 500ms, 30s, 5m, 2h)%s", text,
                                 r == -ERANGE ? " (too large)" : "");
                break;
        }
        if (r < 0)
                return r;
        if (ranged && k->type != CFG_STRING && k->type != CFG_BOOL && (i < k->min || i > k->max)) {
                const char *unit = k->type == CFG_SIZE       ? " bytes"
                                   : k->type == CFG_DURATION ? " ms"
                                                             : "";
                snprintf(why, why_len, "%s is out of range [%" PRId64 "%s, %" PRId64 "%s]", text,
                         k->min, unit, k->max, unit);
                return -ERANGE;
        }
        char *t = strdup(text);
        if (t == NULL) {
                snprintf(why, why_len, "out of memory");
                return -ENOMEM;
        }
        free(val->text);
        val->text = t;
        val->set = true;
        if (k->type == CFG_BOOL)
                val->v.b = b;
        else if (k->type == CFG_SIZE)
                val->v.size = size;
        else
                val->v.i = i;
        return 0;
}

/* Sets KEY (by name) to TEXT; ORIGIN names the place for errors and cfg_dump. */
static int set_value(struct cfg *cfg, const char *key, const char *text, const char *origin)
{
        long idx = find_key(cfg, key);
        if (idx < 0) {
                add_error(cfg, origin, "unknown key \"%s\"", key);
                return -EINVAL;
        }
        char why[384];
        struct cfg_value *val = &cfg->values[idx];
        int r = parse_value(&cfg->schema[idx], text, val, why, sizeof why);
        if (r < 0) {
                add_error(cfg, origin, "%s: %s", key, why);
                return -EINVAL;
        }
        char *o = strdup(origin);
        if (o != NULL) {
                free(val->origin);
                val->origin = o;
        }
        return 0;
}

struct cfg *cfg_new(const struct cfg_key *schema)
{
        struct cfg *cfg = calloc(1, sizeof *cfg);
        if (cfg == NULL)
                return NULL;
        cfg->schema = schema;
        while (schema != NULL && schema[cfg->n_keys].name != NULL)
                cfg->n_keys++;
        cfg->values = calloc(cfg->n_keys ? cfg->n_keys : 1, sizeof *cfg->values);
        if (cfg->values == NULL) {
                free(cfg);
                return NULL;
        }
        for (size_t i = 0; i < cfg->n_keys; i++) {
                if (schema[i].def == NULL)
                        continue;
                set_value(cfg, schema[i].name, schema[i].def, "default");
        }
        return cfg;
}

void cfg_free(struct cfg *cfg)
{
        if (cfg == NULL)
                return;
        for (size_t i = 0; i < cfg->n_keys; i++) {
                free(cfg->values[i].text);
                free(cfg->values[i].origin);
        }
        for (size_t i = 0; i < cfg->n_errors; i++)
                free(cfg->errors[i]);
        free(cfg->errors);
        free(cfg->values);
        free(cfg);
}

/* ---- the file parser ---- */

static bool is_name_char(char c)
{
        return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)tolower((unsigned char)c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Unquotes the value starting at P (already past leading blanks) into OUT (at least as long
 * as P).  Returns NULL on success, or a static message describing the problem. */
static const char *parse_line_value(const char *p, char *out)
{
        size_t n = 0;
        if (*p == '"' || *p == '\'') {
                char q = *p++;
                for (;;) {
                        char c = *p++;
                        if (c == '\0')
                                return "unterminated quoted value";
                        if (c == q)
                                break;
                        if (c == '\\' && q == '"') {
                                char e = *p++;
                                switch (e) {
                                case 'n':
                                        c = '\n';
                                        break;
                                case 't':
                                        c = '\t';
                                        break;
                                case 'r':
                                        c = '\r';
                                        break;
                                case '\\':
                                case '"':
                                case '\'':
                                        c = e;
                                        break;
                                case 'x': {
                                        int h = hexval(p[0]), l = h < 0 ? -1 : hexval(p[1]);
                                        if (h < 0 || l < 0 || (h == 0 && l == 0))
                                                return "bad \\x escape (two hex digits, not 00)";
                                        c = (char)(h * 16 + l);
                                        p += 2;
                                        break;
                                }
                                case '\0':
                                        return "unterminated quoted value";
                                default:
                                        return "unknown escape in quoted value";
                                }
                        }
                        out[n++] = c;
                }
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p != '\0' && *p != '#')
                        return "text after the closing quote";
                out[n] = '\0';
                return NULL;
        }
        /* Unquoted: up to a '#' that follows white space, trailing blanks trimmed. */
        const char *start = p;
        while (*p != '\0') {
                if (*p == '#' && (p == start || p[-1] == ' ' || p[-1] == '\t'))
                        break;
                out[n++] = *p++;
        }
        while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
                n--;
        out[n] = '\0';
        return NULL;
}

/* Parses one line (NUL-terminated, no newline).  SECTION is updated by headers. */
static void parse_line(struct cfg *cfg, const char *origin, char *line, char *section)
{
        char *p = line;
        while (*p == ' ' || *p == '\t')
                p++;
        if (*p == '\0' || *p == '#' || *p == ';')
                return;
        if (*p == '[') {
                p++;
                char *end = strchr(p, ']');
                if (end == NULL) {
                        add_error(cfg, origin, "section header without ']'");
                        return;
                }
                *end = '\0';
                for (char *q = end + 1; *q != '\0' && *q != '#'; q++) {
                        if (*q != ' ' && *q != '\t') {
                                add_error(cfg, origin, "text after section header");
                                return;
                        }
                }
                size_t len = strlen(p);
                bool ok = len > 0 && len < CFG_MAX_SECTION;
                for (size_t i = 0; ok && i < len; i++)
                        ok = is_name_char(p[i]);
                if (!ok) {
                        add_error(cfg, origin, "bad section name \"%.64s\"", p);
                        section[0] = '\x01'; /* keys below stay unknown, not global */
                        return;
                }
                memcpy(section, p, len + 1);
                return;
        }
        char *key = p;
        while (is_name_char(*p))
                p++;
        char *key_end = p;
        while (*p == ' ' || *p == '\t')
                p++;
        if (key_end == key || *p != '=') {
                add_error(cfg, origin, "expected \"key = value\"");
                return;
        }
        *key_end = '\0';
        p++;
        while (*p == ' ' || *p == '\t')
                p++;
        char *val = malloc(strlen(p) + 1);
        if (val == NULL) {
                add_error(cfg, origin, "out of memory");
                return;
        }
        const char *err = parse_line_value(p, val);
        if (err != NULL) {
                add_error(cfg, origin, "%s: %s", key, err);
                free(val);
                return;
        }
        char full[CFG_MAX_SECTION + CFG_MAX_LINE];
        if (section[0] == '\x01')
                snprintf(full, sizeof full, "?.%s", key);
        else if (section[0] != '\0')
                snprintf(full, sizeof full, "%s.%s", section, key);
        else
                snprintf(full, sizeof full, "%s", key);
        set_value(cfg, full, val, origin);
        free(val);
}

static int parse_stream(struct cfg *cfg, const char *name, FILE *f)
{
        size_t before = cfg->n_errors;
        char section[CFG_MAX_SECTION] = "";
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        unsigned lineno = 0;
        while ((len = getline(&line, &cap, f)) >= 0) {
                char origin[512];
                lineno++;
                snprintf(origin, sizeof origin, "%s:%u", name, lineno);
                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                if (len > 0 && line[len - 1] == '\r')
                        line[--len] = '\0';
                if ((size_t)len != strlen(line)) {
                        add_error(cfg, origin, "NUL byte in line");
                        continue;
                }
                if (len > CFG_MAX_LINE) {
                        add_error(cfg, origin, "line longer than %d bytes", CFG_MAX_LINE);
                        continue;
                }
                parse_line(cfg, origin, line, section);
        }
        free(line);
        return cfg->n_errors > before ? -EINVAL : 0;
}

int cfg_load_file(struct cfg *cfg, const char *path, bool missing_ok)
{
        if (cfg == NULL || path == NULL)
                return -EINVAL;
        FILE *f = fopen(path, "re");
        if (f == NULL) {
                int r = -errno;
                if (r != -ENOENT || !missing_ok)
                        add_error(cfg, path, "cannot read: %s", strerror(-r));
                return r;
        }
        parse_stream(cfg, path, f);
        int r = ferror(f) ? -EIO : 0;
        if (r < 0)
                add_error(cfg, path, "read error");
        fclose(f);
        return r;
}

int cfg_load_string(struct cfg *cfg, const char *name, const char *text)
{
        if (cfg == NULL || text == NULL)
                return -EINVAL;
        FILE *f = fmemopen((void *)text, strlen(text), "r");
        if (f == NULL)
                return -errno;
        int r = parse_stream(cfg, name != NULL ? name : "(string)", f);
        fclose(f);
        return r;
}

int cfg_set_override(struct cfg *cfg, const char *assignment)
{
        if (cfg == NULL)
                return -EINVAL;
        const char *eq = assignment != NULL ? strchr(assignment, '=') : NULL;
        if (eq == NULL || eq == assignment) {
                add_error(cfg, "-o", "expected key=value, got \"%s\"",
                          assignment != NULL ? assignment : "");
                return -EINVAL;
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
        /* Tolerate "key = value" typed with blanks around '='. */
        size_t kl = strlen(key);
        while (kl > 0 && key[kl - 1] == ' ')
                key[--kl] = '\0';
        const char *val = eq + 1;
        while (*val == ' ')
                val++;
        return set_value(cfg, key, val, "-o");
}

int cfg_load_env(struct cfg *cfg, const char *prefix)
{
        if (cfg == NULL || prefix == NULL)
                return 0;
        size_t before = cfg->n_errors;
        for (size_t i = 0; i < cfg->n_keys; i++) {
                char var[256];
                int n = snprintf(var, sizeof var, "%s_%s", prefix, cfg->schema[i].name);
                if (n < 0 || (size_t)n >= sizeof var)
                        continue;
                for (char *c = var; *c; c++)
                        *c = (*c == '.' || *c == '-') ? '_' : (char)toupper((unsigned char)*c);
                const char *v = getenv(var);
                if (v == NULL)
                        continue;
                char origin[300];
                snprintf(origin, sizeof origin, "env %s", var);
                set_value(cfg, cfg->schema[i].name, v, origin);
        }
        return (int)(cfg->n_errors - before);
}

size_t cfg_error_count(const struct cfg *cfg)
{
        return cfg != NULL ? cfg->n_errors : 0;
}

const char *cfg_error(const struct cfg *cfg, size_t i)
{
        return cfg != NULL && i < cfg->n_errors ? cfg->errors[i] : NULL;
}

int cfg_report(const struct cfg *cfg, FILE *out)
{
        if (cfg == NULL)
                return 1;
        for (size_t i = 0; i < cfg->n_errors; i++)
                fprintf(out, "%s\n", cfg->errors[i]);
        return cfg->n_errors ? 1 : 0;
}

/* ---- getters ---- */

static const struct cfg_value *lookup(const struct cfg *cfg, const char *key, enum cfg_type t)
{
        if (cfg == NULL || key == NULL)
                return NULL;
        long idx = find_key(cfg, key);
        if (idx < 0 || cfg->schema[idx].type != t) {
                log_warnx("programming error: %s is not a %s key of the schema", key, type_name(t));
                return NULL;
        }
        return cfg->values[idx].set ? &cfg->values[idx] : NULL;
}

const char *cfg_get_str(const struct cfg *cfg, const char *key)
{
        const struct cfg_value *v = lookup(cfg, key, CFG_STRING);
        return v ? v->text : NULL;
}

int64_t cfg_get_int(const struct cfg *cfg, const char *key)
{
        const struct cfg_value *v = lookup(cfg, key, CFG_INT);
        return v ? v->v.i : 0;
}

bool cfg_get_bool(const struct cfg *cfg, const char *key)
{
        const struct cfg_value *v = lookup(cfg, key, CFG_BOOL);
        return v ? v->v.b : false;
}

uint64_t cfg_get_size(const struct cfg *cfg, const char *key)
{
        const struct cfg_value *v = lookup(cfg, key, CFG_SIZE);
        return v ? v->v.size : 0;
}

int64_t cfg_get_duration_ms(const struct cfg *cfg, const char *key)
{
        const struct cfg_value *v = lookup(cfg, key, CFG_DURATION);
        return v ? v->v.i : 0;
}

bool cfg_is_set(const struct cfg *cfg, const char *key)
{
        if (cfg == NULL || key == NULL)
                return false;
        long idx = find_key(cfg, key);
        return idx >= 0 && cfg->values[idx].set;
}

void cfg_dump(const struct cfg *cfg, FILE *out)
{
        if (cfg == NULL)
                return;
        for (size_t i = 0; i < cfg->n_keys; i++) {
                const struct cfg_value *v = &cfg->values[i];
                if (!v->set)
                        continue;
                fprintf(out, "%s = ", cfg->schema[i].name);
                if (cfg->schema[i].type == CFG_STRING) {
                        fputc('"', out);
                        for (const char *c = v->text; *c; c++) {
                                if (*c == '"' || *c == '\\')
                                        fprintf(out, "\\%c", *c);
                                else if (*c == '\n')
                                        fputs("\\n", out);
                                else if (*c == '\t')
                                        fputs("\\t", out);
                                else if ((unsigned char)*c < 0x20)
                                        fprintf(out, "\\x%02x", (unsigned char)*c);
                                else
                                        fputc(*c, out);
                        }
                        fputc('"', out);
                } else {
                        fputs(v->text, out);
                }
                fprintf(out, "  # %s\n", v->origin != NULL ? v->origin : "?");
        }
}

void cfg_print_schema(const struct cfg_key *schema, FILE *out)
{
        for (size_t i = 0; schema != NULL && schema[i].name != NULL; i++) {
                const struct cfg_key *k = &schema[i];
                fprintf(out, "  %-28s %-8s", k->name, type_name(k->type));
                if (k->def != NULL)
                        fprintf(out, " default %s", k->def);
                if (k->min != 0 || k->max != 0)
                        fprintf(out, " [%" PRId64 "..%" PRId64 "%s]", k->min, k->max,
                                k->type == CFG_SIZE       ? " bytes"
                                : k->type == CFG_DURATION ? " ms"
                                                          : "");
                fprintf(out, "\n      %s\n", k->help != NULL ? k->help : "");
        }
}

void cfg_print_example(const struct cfg_key *schema, const char *program, FILE *out)
{
        fprintf(out,
                "# %s configuration.  Every setting is shown with its default, commented out.\n",
                program);
        char section[128] = "";
        for (size_t i = 0; schema != NULL && schema[i].name != NULL; i++) {
                const struct cfg_key *k = &schema[i];
                const char *dot = strchr(k->name, '.');
                int slen = dot != NULL ? (int)(dot - k->name) : 0;
                if ((int)strlen(section) != slen || strncmp(section, k->name, (size_t)slen) != 0) {
                        snprintf(section, sizeof(section), "%.*s", slen, k->name);
                        fprintf(out, "\n[%s]\n", section);
                }
                fprintf(out, "\n# %s\n# %s = %s\n", k->help != NULL ? k->help : "",
                        dot != NULL ? dot + 1 : k->name, k->def != NULL ? k->def : "");
        }
}
