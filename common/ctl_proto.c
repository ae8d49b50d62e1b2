/* Control socket wire format: request words and reply headers (see ctl_proto.h). */
#include "common/ctl_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int ctl_split(char *line, char **argv, int max)
{
        if (line == NULL || argv == NULL)
                return -EINVAL;
        int argc = 0;
        char *in = line, *out = line;
        for (;;) {
                while (*in == ' ' || *in == '\t')
                        in++;
                if (*in == '\0')
                        return argc;
                if (argc == max)
                        return -E2BIG;
                /* Words are rewritten in place: unquoting only ever shrinks them, and OUT
                 * never passes IN, so each word ends with a NUL written over consumed text. */
                argv[argc++] = out;
                if (*in == '"') {
                        in++;
                        for (;;) {
                                char c = *in++;
                                if (c == '\0')
                                        return -EINVAL;
                                if (c == '"')
                                        break;
                                if (c == '\\') {
                                        char e = *in++;
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
                                                c = e;
                                                break;
                                        default:
                                                return -EINVAL;
                                        }
                                }
                                *out++ = c;
                        }
                        if (*in != '\0' && *in != ' ' && *in != '\t')
                                return -EINVAL; /* "ab"cd: a quote ends a word */
                } else {
                        while (*in != '\0' && *in != ' ' && *in != '\t') {
                                if (*in == '"' || *in == '\\')
                                        return -EINVAL; /* quotes only around whole words */
                                *out++ = *in++;
                        }
                }
                /* IN now sits on a blank or the NUL; OUT <= IN, so this NUL is safe. */
                bool end = *in == '\0';
                *out++ = '\0';
                if (end)
                        return argc;
                in++;
                if (out > in)
                        return -EINVAL; /* cannot happen; keeps the invariant explicit */
        }
}

static bool needs_quotes(const char *s)
{
        if (*s == '\0')
                return true;
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == '"' || *s == '\\' || *s == 0x7f)
                        return true;
        return false;
}

char *ctl_join(int argc, const char *const *argv)
{
        size_t cap = 1;
        for (int i = 0; i < argc; i++)
                cap += 2 * strlen(argv[i]) + 3;
        char *buf = malloc(cap), *p = buf;
        if (buf == NULL)
                return NULL;
        for (int i = 0; i < argc; i++) {
                if (i > 0)
                        *p++ = ' ';
                const char *s = argv[i];
                if (!needs_quotes(s)) {
                        size_t n = strlen(s);
                        memcpy(p, s, n);
                        p += n;
                        continue;
                }
                *p++ = '"';
                for (; *s; s++) {
                        switch (*s) {
                        case '\n':
                                *p++ = '\\';
                                *p++ = 'n';
                                break;
                        case '\t':
                                *p++ = '\\';
                                *p++ = 't';
                                break;
                        case '\r':
                                *p++ = '\\';
                                *p++ = 'r';
                                break;
                        case '"':
                        case '\\':
                                *p++ = '\\';
                                *p++ = *s;
                                break;
                        default:
                                *p++ = *s;
                        }
                }
                *p++ = '"';
        }
        *p = '\0';
        return buf;
}

int ctl_parse_header(const char *line, int *status, size_t *length)
{
        if (line == NULL)
                return -EPROTO;
        int st = 0;
        const char *p = line;
        for (int i = 0; i < 3; i++, p++) {
                if (*p < '0' || *p > '9')
                        return -EPROTO;
                st = st * 10 + (*p - '0');
        }
        if (*p++ != ' ' || st < 100)
                return -EPROTO;
        size_t len = 0;
        if (*p < '0' || *p > '9')
                return -EPROTO;
        for (; *p >= '0' && *p <= '9'; p++) {
                len = len * 10 + (size_t)(*p - '0');
                if (len > CTL_MAX_REPLY)
                        return -EPROTO;
        }
        if (*p != '\0')
                return -EPROTO;
        *status = st;
        *length = len;
        return 0;
}
