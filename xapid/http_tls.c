/* TLS for the HTTPS listener: a server SSL_CTX limited to TLS 1.2 and 1.3 with forward-secret
 * AEAD ciphers, and the self-signed certificate generated at first start (EC P-256, 10
 * years, written 0600 next to where it is configured, reused afterwards). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "xapid/http_internal.h"

LOG_MODULE(http_tls)

/* TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only.  TLS 1.3 keeps OpenSSL's
 * defaults, which are all fine. */
#define TLS12_CIPHERS                                                                              \
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static void log_ssl_errors(const char *what)
{
        unsigned long e;
        char msg[256];
        while ((e = ERR_get_error()) != 0) {
                ERR_error_string_n(e, msg, sizeof(msg));
                log_warnx("%s: %s", what, msg);
        }
}

static int add_ext(X509 *x, int nid, const char *value)
{
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
        if (!ext)
                return -EINVAL;
        int ok = X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        return ok ? 0 : -ENOMEM;
}

static X509 *make_cert(EVP_PKEY *pkey)
{
        char host[256] = "localhost", san[600];
        X509 *x = X509_new();
        BIGNUM *serial = BN_new();
        if (!x || !serial)
                goto fail;
        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
                snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        if (!X509_set_version(x, 2) || !BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
            !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
                goto fail;
        if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600))
                goto fail;
        X509_NAME *name = X509_get_subject_name(x);
        if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (unsigned char *)host, -1, -1,
                                        0) ||
            !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pkey))
                goto fail;
        snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
        if (add_ext(x, NID_subject_alt_name, san) < 0 ||
            add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
            add_ext(x, NID_ext_key_usage, "serverAuth") < 0)
                goto fail;
        if (!X509_sign(x, pkey, EVP_sha256()))
                goto fail;
        BN_free(serial);
        return x;
fail:
        BN_free(serial);
        X509_free(x);
        return NULL;
}

/* Writes KEY and/or CERT (PEM) to PATH atomically, mode 0600. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
        size_t n = strlen(path) + 16;
        char *tmp = malloc(n);
        int r = -ENOMEM;
        if (!tmp)
                return r;
        snprintf(tmp, n, "%s.tmpXXXXXX", path);
        int fd = mkstemp(tmp); /* created 0600 */
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        fchmod(fd, 0600);
        FILE *f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                close(fd);
                unlink(tmp);
                goto out;
        }
        bool ok = (!key || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)) &&
                  (!cert || PEM_write_X509(f, cert));
        ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
        if (fclose(f) != 0)
                ok = false;
        if (!ok || rename(tmp, path) < 0) {
                r = ok ? -errno : -EIO;
                unlink(tmp);
                goto out;
        }
        r = 0;
out:
        free(tmp);
        return r;
}

static int generate(const char *cert_path, const char *key_path)
{
        int r = -ENOMEM;
        EVP_PKEY *pkey = EVP_EC_gen("P-256");
        X509 *x = pkey ? make_cert(pkey) : NULL;
        if (!x) {
                log_ssl_errors("generating certificate");
                goto out;
        }
        if (strcmp(cert_path, key_path) == 0) {
                r = write_pem(key_path, pkey, x);
        } else {
                r = write_pem(key_path, pkey, NULL);
                if (r == 0)
                        r = write_pem(cert_path, NULL, x);
        }
        if (r < 0)
                log_warnx("writing %s: %s", cert_path, strerror(-r));
        else
                log_notice("generated a self-signed certificate in %s", cert_path);
out:
        X509_free(x);
        EVP_PKEY_free(pkey);
        return r;
}

int http_tls_ctx_new(const char *cert_path, const char *key_path, SSL_CTX **out)
{
        *out = NULL;
        if (!cert_path || !key_path)
                return -EINVAL;
        bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
        if (!have_cert && !have_key) {
                int r = generate(cert_path, key_path);
                if (r < 0)
                        return r;
        } else if (!have_cert || !have_key) {
                log_warnx("%s exists but %s does not: not generating over it",
                          have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
                return -ENOENT;
        }

        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return -ENOMEM;
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx, 0); /* up to the newest: TLS 1.3 */
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* thousands of idle connections */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        if (!SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
            SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
                log_ssl_errors(cert_path);
                SSL_CTX_free(ctx);
                return -EINVAL;
        }
        *out = ctx;
        return 0;
}
