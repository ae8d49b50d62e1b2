/* HTTP/1.1 POST over the local unix socket or HTTPS (OpenSSL), one connection kept open
 * across the requests of a command. */
#ifndef TS_CLI_XE_TRANSPORT_H
#define TS_CLI_XE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

struct xe_conn {
        const char *socket_path; /* unix socket, or NULL for HTTPS */
        const char *host;
        int port;
        int fd;
        void *ssl_ctx, *ssl; /* SSL_CTX, SSL */
};

/* Sends body to `path` and reads the whole response body (malloc'd, NUL-terminated).
 * Returns the HTTP status, or -1 with *error (malloc'd) when the server cannot be reached
 * or the response is not HTTP. */
int xe_http_post(struct xe_conn *c, const char *path, const char *content_type, const char *body,
                 size_t len, char **resp, size_t *resp_len, char **error);
void xe_conn_close(struct xe_conn *c);

#endif
