/* Configuration files (/etc/xapid/xapid.conf and friends) checked against a schema.
 *
 * File syntax, one setting per line:
 *
 *     # a comment (also after a value, when preceded by white space)
 *     log_level = info
 *     [http]                        # keys below are named "http.<key>"
 *     port = 443
 *     banner = "line one\nline \"two\""   # double quotes: \n \t \r \\ \" \' \xHH escapes
 *     motd = 'no escapes # in here'       # single quotes: taken literally
 *     max_body = 64M                # sizes: bytes, or K M G T (powers of 1024), "B"/"iB" allowed
 *     idle_timeout = 90s            # durations: ms s m h (a bare number means seconds)
 *     tls = yes                     # booleans: yes/no true/false on/off 1/0
 *
 * A key given twice keeps the last value.  Every problem is recorded as "file:line: message"
 * (all of them, not only the first) and the daemon decides what to do with them.
 *
 * Typical use in a daemon's main():
 *
 *     static const struct cfg_key schema[] = {
 *         {"rundir", CFG_STRING, "/run/xapid", 0, 0, "run directory"},
 *         {"http.port", CFG_INT, "443", 1, 65535, "TCP port of the HTTPS listener"},
 *         {"http.idle_timeout", CFG_DURATION, "90s", 1000, 3600000, "keep-alive timeout"},
 *         {NULL},
 *     };
 *     struct cfg *cfg = cfg_new(schema);
 *     cfg_load_file(cfg, conf_path, true);              // a missing file is fine
 *     cfg_load_env(cfg, "XAPID");                       // XAPID_HTTP_PORT=8080
 *     for (each -o KEY=VALUE) cfg_set_override(cfg, optarg);
 *     if (check_only) exit(cfg_report(cfg, stderr));    // -n: print errors, exit 0 or 1
 *     if (cfg_report(cfg, stderr) != 0) exit(1);
 *     int port = (int)cfg_get_int(cfg, "http.port");
 */
#ifndef TS_COMMON_CONFIG_H
#define TS_COMMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum cfg_type {
        CFG_STRING,
        CFG_INT,      /* int64 */
        CFG_BOOL,     /* yes/no true/false on/off 1/0 */
        CFG_SIZE,     /* bytes; K M G T suffixes (1024-based) */
        CFG_DURATION, /* milliseconds; ms s m h suffixes, a bare number is seconds */
};

/* One known key.  Schemas are arrays ended by an entry whose name is NULL; they are
 * borrowed by the struct cfg and must outlive it (static tables are the norm). */
struct cfg_key {
        const char *name; /* "key" or "section.key" */
        enum cfg_type type;
        const char *def;  /* default, written like a file value; NULL: no value */
        int64_t min, max; /* inclusive bounds in the type's unit (bytes, ms); both 0: none */
        const char *help; /* one line, for --help and cfg_print_schema */
};

struct cfg;

/* Returns a configuration holding the schema's defaults, or NULL if out of memory.  A default
 * that does not parse is recorded as an error (so `-n` catches schema mistakes too). */
struct cfg *cfg_new(const struct cfg_key *schema);
void cfg_free(struct cfg *cfg);

/* Reads PATH.  Returns 0 when the file was read (check cfg_error_count for its problems),
 * -ENOENT when it does not exist (recorded as an error unless MISSING_OK), or another
 * negative errno when it cannot be read (always recorded). */
int cfg_load_file(struct cfg *cfg, const char *path, bool missing_ok);
/* Parses TEXT as if it were the file NAME (used by tests and for embedded defaults).
 * Returns 0, or -EINVAL when it added errors. */
int cfg_load_string(struct cfg *cfg, const char *name, const char *text);
/* Applies one "key=value" override (the argument of a daemon's -o option); the value is
 * taken literally (no quotes, no comments).  Returns 0, or -EINVAL (error recorded). */
int cfg_set_override(struct cfg *cfg, const char *assignment);
/* For every schema key, applies the environment variable PREFIX_KEY if set, KEY upper-cased
 * with '.' and '-' turned into '_' (prefix "XAPID", key "http.port": XAPID_HTTP_PORT).
 * Returns the number of errors added (0 when all were valid). */
int cfg_load_env(struct cfg *cfg, const char *prefix);

/* Errors recorded so far, each "origin: message" (origin "file:line", "-o", or "env NAME"). */
size_t cfg_error_count(const struct cfg *cfg);
const char *cfg_error(const struct cfg *cfg, size_t i); /* borrowed; NULL past the end */
/* The check-mode helper: prints every error, one a line, to OUT; returns 0 when there were
 * none and 1 otherwise, ready to be an exit status. */
int cfg_report(const struct cfg *cfg, FILE *out);

/* Getters.  KEY must be in the schema with that type: asking for anything else is a
 * programming error, logged, and answered with 0 / false / NULL. */
const char *cfg_get_str(const struct cfg *cfg, const char *key); /* borrowed; NULL if unset */
int64_t cfg_get_int(const struct cfg *cfg, const char *key);
bool cfg_get_bool(const struct cfg *cfg, const char *key);
uint64_t cfg_get_size(const struct cfg *cfg, const char *key);       /* bytes */
int64_t cfg_get_duration_ms(const struct cfg *cfg, const char *key); /* milliseconds */
/* True when KEY has a value (from the default, a file, the environment or -o). */
bool cfg_is_set(const struct cfg *cfg, const char *key);

/* Writes "key = value  # origin" for every key with a value (for `tsctl X config`). */
void cfg_dump(const struct cfg *cfg, FILE *out);
/* Writes the schema as help text: name, type, default, bounds and help, one key a line. */
void cfg_print_schema(const struct cfg_key *schema, FILE *out);
/* Writes a configuration file with every key of SCHEMA commented out at its default, under
 * its [section], with its help line above it: what `make install` ships as an example. */
void cfg_print_example(const struct cfg_key *schema, const char *program, FILE *out);

/* Value parsers, shared with callers that take such values elsewhere (e.g. command lines).
 * Each returns 0 or -EINVAL (-ERANGE when the number overflows). */
int cfg_parse_int(const char *s, int64_t *out);
int cfg_parse_bool(const char *s, bool *out);
int cfg_parse_size(const char *s, uint64_t *out);
int cfg_parse_duration_ms(const char *s, int64_t *out);

#endif
