/* Text encoding for the RPC writer: XML and JSON string escaping with UTF-8 repair, and the
 * formatting of numbers and datetimes.  Hot path of large responses: bytes that need no
 * escaping are copied in runs, found with a 256-entry table. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "xapid/rpc_writer_impl.h"

/* U+FFFD REPLACEMENT CHARACTER, for bytes that are not valid UTF-8. */
static const char replacement[] = "\xEF\xBF\xBD";

/* Classes of bytes: 0 copy as is, 1 needs escaping, 2 dropped (XML only), 3 start of a
 * multi-byte sequence (or an invalid byte): check UTF-8. */
enum { C_COPY, C_ESCAPE, C_DROP, C_UTF8 };

static unsigned char xml_class[256], json_class[256];

__attribute__((constructor)) static void init_classes(void)
{
        for (int c = 0; c < 256; c++) {
                unsigned char x = C_COPY, j = C_COPY;
                if (c >= 0x80) {
                        x = j = C_UTF8;
                } else if (c < 0x20) {
                        /* XML 1.0 cannot carry these even as character references; XAPI drops them.
                         */
                        x = (c == '\t' || c == '\n' || c == '\r') ? C_COPY : C_DROP;
                        j = C_ESCAPE;
                }
                if (c == '<' || c == '>' || c == '&' || c == '"')
                        x = C_ESCAPE;
                if (c == '"' || c == '\\' || c == 0x7f)
                        j = C_ESCAPE;
                xml_class[c] = x;
                json_class[c] = j;
        }
}

size_t rpcw_utf8_seq(const unsigned char *s, size_t n)
{
        unsigned char c = s[0];
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                cp = c & 0x07;
        } else {
                return 0; /* continuation byte, overlong lead (c0, c1) or beyond U+10FFFF */
        }
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0; /* overlong or out of range */
        if (cp >= 0xd800 && cp <= 0xdfff)
                return 0; /* UTF-16 surrogates are not characters */
        return len;
}

/* Shared loop: copies runs of C_COPY bytes, repairs UTF-8, and calls ESC for the rest. */
static inline void put_text(struct rpc_writer *w, const char *str, size_t len,
                            const unsigned char *cls, bool xml)
{
        const unsigned char *s = (const unsigned char *)str;
        size_t run = 0; /* start of the pending run of bytes to copy */
        size_t i = 0;
        while (i < len) {
                unsigned char k = cls[s[i]];
                if (k == C_COPY) {
                        i++;
                        continue;
                }
                if (k == C_UTF8) {
                        size_t n = rpcw_utf8_seq(s + i, len - i);
                        /* XML 1.0 excludes U+FFFE and U+FFFF (EF BF BE / EF BF BF): one U+FFFD
                         * for the whole sequence. */
                        if (n == 3 && xml && s[i] == 0xef && s[i + 1] == 0xbf && s[i + 2] >= 0xbe) {
                                rpcw_put(w, str + run, i - run);
                                rpcw_put(w, replacement, 3);
                                i += 3;
                                run = i;
                                continue;
                        }
                        if (n) {
                                i += n;
                                continue;
                        }
                }
                rpcw_put(w, str + run, i - run);
                if (k == C_UTF8) {
                        rpcw_put(w, replacement, 3);
                } else if (k == C_ESCAPE) {
                        char esc[8];
                        const char *e = esc;
                        size_t elen;
                        switch (s[i]) {
                        case '<':
                                e = "&lt;", elen = 4;
                                break;
                        case '>':
                                e = "&gt;", elen = 4;
                                break;
                        case '&':
                                e = "&amp;", elen = 5;
                                break;
                        case '"':
                                e = xml ? "&quot;" : "\\\"", elen = xml ? 6 : 2;
                                break;
                        case '\\':
                                e = "\\\\", elen = 2;
                                break;
                        case '\b':
                                e = "\\b", elen = 2;
                                break;
                        case '\f':
                                e = "\\f", elen = 2;
                                break;
                        case '\n':
                                e = "\\n", elen = 2;
                                break;
                        case '\r':
                                e = "\\r", elen = 2;
                                break;
                        case '\t':
                                e = "\\t", elen = 2;
                                break;
                        default:
                                elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
                                break;
                        }
                        rpcw_put(w, e, elen);
                }
                /* C_DROP: nothing */
                i++;
                run = i;
        }
        rpcw_put(w, str + run, len - run);
}

void rpcw_put_xml_text(struct rpc_writer *w, const char *s, size_t len)
{
        put_text(w, s, len, xml_class, true);
}

void rpcw_put_json_text(struct rpc_writer *w, const char *s, size_t len)
{
        put_text(w, s, len, json_class, false);
}

size_t rpcw_fmt_int(char *buf, int64_t v)
{
        char tmp[24];
        size_t n = 0;
        /* Work on the unsigned magnitude so INT64_MIN is fine. */
        uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
        do {
                tmp[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        size_t len = 0;
        if (v < 0)
                buf[len++] = '-';
        while (n)
                buf[len++] = tmp[--n];
        buf[len] = '\0';
        return len;
}

size_t rpcw_fmt_double(char *buf, double d, bool json)
{
        if (isnan(d))
                return (size_t)snprintf(buf, 32, "%s", json ? "NaN" : "nan");
        if (isinf(d))
                return (size_t)snprintf(buf, 32, "%s",
                                        d > 0 ? (json ? "Infinity" : "inf")
                                              : (json ? "-Infinity" : "-inf"));
        /* XAPI prints %.16g; fall back to %.17g only where that loses the value. */
        size_t n = (size_t)snprintf(buf, 32, "%.16g", d);
        if (strtod(buf, NULL) != d)
                n = (size_t)snprintf(buf, 32, "%.17g", d);
        if (json && strspn(buf, "-0123456789") == n) {
                /* Yojson marks a float that looks integral with ".0". */
                buf[n++] = '.';
                buf[n++] = '0';
                buf[n] = '\0';
        }
        return n;
}

static char *two(char *p, int v)
{
        p[0] = (char)('0' + v / 10 % 10);
        p[1] = (char)('0' + v % 10);
        return p + 2;
}

size_t rpcw_fmt_datetime(char *buf, time_t t)
{
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                memset(&tm, 0, sizeof(tm)), tm.tm_year = 70, tm.tm_mday = 1;
        int year = tm.tm_year + 1900;
        if (year < 0 || year > 9999)
                return (size_t)snprintf(buf, 32, "%04d%02d%02dT%02d:%02d:%02dZ", year,
                                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                        tm.tm_sec);
        char *p = two(buf, year / 100);
        p = two(p, year % 100);
        p = two(p, tm.tm_mon + 1);
        p = two(p, tm.tm_mday);
        *p++ = 'T';
        p = two(p, tm.tm_hour);
        *p++ = ':';
        p = two(p, tm.tm_min);
        *p++ = ':';
        p = two(p, tm.tm_sec);
        *p++ = 'Z';
        *p = '\0';
        return (size_t)(p - buf);
}
