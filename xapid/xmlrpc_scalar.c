/* Strict parsing of XML-RPC scalar texts (see xmlrpc_scalar.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xapid/xmlrpc_scalar.h"

bool xmlrpc_is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void trim(const char **s, size_t *len)
{
        while (*len && xmlrpc_is_space(**s)) {
                (*s)++;
                (*len)--;
        }
        while (*len && xmlrpc_is_space((*s)[*len - 1]))
                (*len)--;
}

int xmlrpc_parse_int(const char *s, size_t len, int64_t *out)
{
        trim(&s, &len);
        bool neg = false;
        if (len && (*s == '-' || *s == '+')) {
                neg = *s == '-';
                s++;
                len--;
        }
        if (len == 0)
                return -EINVAL;
        /* Accumulate negatively so INT64_MIN is representable. */
        int64_t v = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                int digit = s[i] - '0';
                if (v < (INT64_MIN + digit) / 10)
                        return -ERANGE;
                v = v * 10 - digit;
        }
        if (!neg) {
                if (v == INT64_MIN)
                        return -ERANGE;
                v = -v;
        }
        *out = v;
        return 0;
}

int xmlrpc_parse_double(const char *s, size_t len, double *out)
{
        trim(&s, &len);
        if (len == 0 || len > 512)
                return -EINVAL;
        char buf[513];
        memcpy(buf, s, len);
        buf[len] = '\0';
        /* strtod would skip leading spaces of its own kind (e.g. \v); we trimmed ours already. */
        if (buf[0] != '-' && buf[0] != '+' && buf[0] != '.' && !(buf[0] >= '0' && buf[0] <= '9') &&
            buf[0] != 'n' && buf[0] != 'N' && buf[0] != 'i' && buf[0] != 'I')
                return -EINVAL;
        char *end;
        errno = 0;
        double d = strtod(buf, &end);
        if (end != buf + len)
                return -EINVAL;
        if (errno == ERANGE && isinf(d))
                return -ERANGE;
        *out = d;
        return 0;
}

int xmlrpc_parse_bool(const char *s, size_t len, bool *out)
{
        trim(&s, &len);
        if (len != 1 || (s[0] != '0' && s[0] != '1'))
                return -EINVAL;
        *out = s[0] == '1';
        return 0;
}

static int b64_digit(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int xmlrpc_base64_decode(const char *s, size_t len, char **out, size_t *outlen)
{
        char *buf = malloc(len / 4 * 3 + 4);
        if (!buf)
                return -ENOMEM;
        size_t n = 0;
        unsigned acc = 0;
        int bits = 0, quad = 0, pad = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (xmlrpc_is_space((char)c))
                        continue;
                if (c == '=') {
                        pad++;
                        quad++;
                        continue;
                }
                int dg = b64_digit(c);
                if (dg < 0 || pad)
                        goto bad; /* not base64, or data after padding */
                acc = (acc << 6) | (unsigned)dg;
                bits += 6;
                quad++;
                if (bits >= 8) {
                        bits -= 8;
                        buf[n++] = (char)((acc >> bits) & 0xff);
                }
        }
        /* Complete groups of four, at most two '=' and only as many as the last group needs. */
        if (quad % 4 != 0 || pad > 2)
                goto bad;
        if (pad == 1 && bits != 2)
                goto bad;
        if (pad == 2 && bits != 4)
                goto bad;
        if (memchr(buf, '\0', n))
                goto bad;
        buf[n] = '\0';
        *out = buf;
        *outlen = n;
        return 0;
bad:
        free(buf);
        return -EINVAL;
}
