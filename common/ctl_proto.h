/* Wire format of the control sockets, shared by the server (common/ctl.c) and the client
 * (common/ctl_client.c, used by tsctl).
 *
 * A request is one line of at most CTL_MAX_REQUEST bytes ending in "\n": words separated by
 * blanks, the first word the command.  A word holding blanks, quotes, backslashes or control
 * characters, or an empty word, is written in double quotes with \\ \" \n \t \r escapes
 * (ctl_join does it, ctl_split undoes it).
 *
 * A reply is a header line "<status> <length>\n" followed by exactly <length> bytes of text
 * (UTF-8, any number of lines, each ending in "\n").  Status codes follow HTTP's classes:
 * 2xx success, 4xx the request was wrong, 5xx the daemon failed (see enum ctl_status).
 *
 * A client may send several requests on one connection; they are answered in order, one at a
 * time.  Example session (">" client, "<" server):
 *
 *     > version
 *     < 200 26
 *     < xapid 0.1.0 (git 1a2b3c4)
 *     > log/set "no such" debug
 *     < 400 28
 *     < no such log module: no such
 */
#ifndef TS_COMMON_CTL_PROTO_H
#define TS_COMMON_CTL_PROTO_H

#include <stddef.h>

#define CTL_MAX_REQUEST 4096        /* bytes of one request line, newline excluded */
#define CTL_MAX_ARGS    64          /* words of one request, command included */
#define CTL_MAX_REPLY   (16u << 20) /* bytes of one reply's text; clients refuse more */
#define CTL_MAX_HEADER  32          /* bytes of a reply header line, newline included */

enum ctl_status {
        CTL_OK = 200,
        CTL_BAD_REQUEST = 400, /* bad arguments, malformed request */
        CTL_FORBIDDEN = 403,   /* peer uid not allowed */
        CTL_NOT_FOUND = 404,   /* unknown command or object */
        CTL_TOO_LARGE = 413,   /* request longer than CTL_MAX_REQUEST */
        CTL_FAILED = 500,      /* the command failed */
        CTL_UNAVAILABLE = 503, /* too many clients, or shutting down */
};

/* Splits LINE (NUL-terminated; modified in place) into at most MAX words stored in ARGV
 * (pointers into LINE).  Returns the number of words, or -EINVAL (bad quoting or escape),
 * -E2BIG (more than MAX words). */
int ctl_split(char *line, char **argv, int max);

/* Returns the request line for ARGV (quoted as needed, no trailing newline), or NULL when out
 * of memory.  Caller frees. */
char *ctl_join(int argc, const char *const *argv);

/* Parses a reply header line (without its "\n").  Returns 0, or -EPROTO. */
int ctl_parse_header(const char *line, int *status, size_t *length);

#endif
