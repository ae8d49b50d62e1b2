/* Sessions: login, logout, the per-call check, limits and expiry (see session.h). */
#include "xapid/session.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/model_gen.h"
#include "common/err.h"
#include "common/log.h"
#include "xapid/api.h"
#include "xapid/auth.h"
#include "xapid/db.h"
#include "xapid/rpc.h"
#include "xapid/rpc_value.h"
#include "xapid/rpc_writer.h"
#include "xapid/xapi.h"

LOG_MODULE(session)

struct sessions {
        struct event *expiry;
};

static const char *str_param(const struct rpc_value *const *params, size_t n, size_t i)
{
        return i < n && params[i]->type == RPC_STRING ? params[i]->u.str.s : "";
}

int session_check(struct xapi *x, const char *ref, struct api_error *err)
{
        struct db_row *row = db_get(x->db, &mclass_session, ref);
        if (row == NULL)
                return api_error_set(err, "SESSION_INVALID", ref, NULL);
        /* last_active is refreshed without a generation bump: touching every session on
         * every call would wake every event.from watcher of the session class. */
        ((struct api_session *)row->rec)->last_active = time(NULL);
        return 0;
}

/* Evicts the least recently active session of the same originator (or user) once the
 * limit is reached. */
static void enforce_limit(struct xapi *x, const char *originator, const char *user)
{
        size_t count = 0;
        struct db_row *oldest = NULL;
        for (size_t i = 0; i < db_count(x->db, &mclass_session); i++) {
                struct db_row *row = db_row_at(x->db, &mclass_session, i);
                const struct api_session *s = row->rec;
                bool same = originator[0] != '\0'
                                ? strcmp(s->originator, originator) == 0
                                : s->originator[0] == '\0' && strcmp(s->auth_user_name, user) == 0;
                if (!same)
                        continue;
                count++;
                if (oldest == NULL ||
                    s->last_active < ((struct api_session *)oldest->rec)->last_active)
                        oldest = row;
        }
        if (count >= SESSION_LIMIT && oldest != NULL) {
                log_info("session limit %d reached for %s; evicting %s", SESSION_LIMIT,
                         originator[0] ? originator : user, oldest->ref);
                db_delete(x->db, oldest);
        }
}

static void replace_str(char **slot, const char *v)
{
        char *d = strdup(v != NULL ? v : "");
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

static int open_session(struct xapi *x, const char *user, const char *originator, bool superuser,
                        char **ref_out)
{
        enforce_limit(x, originator, user);
        struct api_session *s = model_record_new(&mclass_session);
        time_t now = time(NULL);
        replace_str(&s->this_host, x->host_ref);
        replace_str(&s->auth_user_name, user);
        replace_str(&s->originator, originator);
        s->last_active = now;
        s->validation_time = now;
        s->is_local_superuser = superuser;
        struct db_row *row;
        int r = db_insert(x->db, &mclass_session, NULL, s, &row);
        if (r < 0)
                return r;
        *ref_out = row->ref;
        return 0;
}

struct login {
        struct xapi *x;
        struct rpc_req *req;
        char *user;
        char *originator;
        bool cancelled;
};

static void login_free(struct login *l)
{
        free(l->user);
        free(l->originator);
        free(l);
}

static void login_cancel(void *arg)
{
        struct login *l = arg;
        l->cancelled = true; /* the auth worker still answers; login_done frees */
}

static void login_done(int result, void *arg)
{
        struct login *l = arg;
        if (l->cancelled) {
                login_free(l);
                return;
        }
        struct api_error err = {0};
        int r = result;
        char *ref = NULL;
        if (result == 0)
                r = open_session(l->x, l->user, l->originator, true, &ref);
        if (r == 0) {
                rpcw_string(rpc_deferred_writer(l->req), ref);
        } else if (result == -EACCES) {
                api_error_set(&err, "SESSION_AUTHENTICATION_FAILED", NULL);
        } else {
                log_warnx("login of %s failed: %s", l->user, strerror(-r));
                api_error_set(&err, "SESSION_AUTHENTICATION_FAILED", NULL);
                r = -EACCES;
        }
        rpc_resume(l->req, r, &err);
        api_error_clear(&err);
        login_free(l);
}

/* session.login_with_password(uname, pwd[, version, originator]) */
int h_session_login_with_password(struct api_ctx *ctx, const struct rpc_value *const *params,
                                  size_t n, struct rpc_writer *w, struct api_error *err)
{
        struct rpc_req *req = ctx->user;
        struct xapi *x = rpc_req_xapi(req);
        const char *user = str_param(params, n, 0);
        const char *pwd = str_param(params, n, 1);
        const char *originator = str_param(params, n, 3);
        /* The local superuser on the unix socket gets in without a password, as in XAPI. */
        if (rpc_req_uid(req) == 0) {
                char *ref;
                int r = open_session(x, user, originator, true, &ref);
                if (r < 0)
                        return r;
                rpcw_string(w, ref);
                return 0;
        }
        if (x->auth == NULL)
                return api_error_set(err, "SESSION_AUTHENTICATION_FAILED", NULL);
        struct login *l = calloc(1, sizeof(*l));
        if (l == NULL)
                return -ENOMEM;
        l->x = x;
        l->user = strdup(user);
        l->originator = strdup(originator);
        if (l->user == NULL || l->originator == NULL) {
                login_free(l);
                return -ENOMEM;
        }
        l->req = rpc_defer(ctx);
        rpc_on_cancel(l->req, login_cancel, l);
        int r = auth_check_async(x->auth, user, pwd, login_done, l);
        if (r < 0) {
                rpc_on_cancel(l->req, NULL, NULL);
                login_free(l);
                return r; /* not deferred after all: rpc fails the call */
        }
        return 0;
}

int h_session_slave_local_login_with_password(struct api_ctx *ctx,
                                              const struct rpc_value *const *params, size_t n,
                                              struct rpc_writer *w, struct api_error *err)
{
        /* Only the local superuser may use it (it skips the password check on slaves). */
        if (rpc_req_uid(ctx->user) != 0)
                return api_error_set(err, "SESSION_AUTHENTICATION_FAILED", NULL);
        return h_session_login_with_password(ctx, params, n, w, err);
}

static int logout_self(struct api_ctx *ctx)
{
        struct db_row *row = db_get(ctx->db, &mclass_session, ctx->session);
        if (row != NULL)
                db_delete(ctx->db, row);
        return 0;
}

int h_session_logout(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                     struct rpc_writer *w, struct api_error *err)
{
        return logout_self(ctx);
}

int h_session_local_logout(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                           struct rpc_writer *w, struct api_error *err)
{
        return logout_self(ctx);
}

/* session.change_password(session, old_pwd, new_pwd) for the session's own user. */
int h_session_change_password(struct api_ctx *ctx, const struct rpc_value *const *params, size_t n,
                              struct rpc_writer *w, struct api_error *err)
{
        struct xapi *x = rpc_req_xapi(ctx->user);
        struct db_row *row = db_get(ctx->db, &mclass_session, ctx->session);
        const struct api_session *s = row->rec;
        if (x->password_file == NULL)
                return api_error_set(err, "INTERNAL_ERROR",
                                     "change_password needs the password-file backend; with PAM "
                                     "use the host's passwd",
                                     NULL);
        if (auth_check_sync(AUTH_BACKEND_PASSWORD_FILE, x->password_file, s->auth_user_name,
                            str_param(params, n, 1)) < 0)
                return api_error_set(err, "SESSION_AUTHENTICATION_FAILED", NULL);
        int r =
            auth_password_file_set(x->password_file, s->auth_user_name, str_param(params, n, 2));
        if (r < 0)
                return api_error_set(err, "INTERNAL_ERROR", strerror(-r), NULL);
        return 0;
}

int h_session_logout_subject_identifier(struct api_ctx *ctx, const struct rpc_value *const *params,
                                        size_t n, struct rpc_writer *w, struct api_error *err)
{
        const char *sid = str_param(params, n, 1);
        for (size_t i = db_count(ctx->db, &mclass_session); i-- > 0;) {
                struct db_row *row = db_row_at(ctx->db, &mclass_session, i);
                const struct api_session *s = row->rec;
                if (strcmp(s->auth_user_sid, sid) == 0 && strcmp(row->ref, ctx->session) != 0)
                        db_delete(ctx->db, row);
        }
        return 0;
}

int h_session_get_all_subject_identifiers(struct api_ctx *ctx,
                                          const struct rpc_value *const *params, size_t n,
                                          struct rpc_writer *w, struct api_error *err)
{
        rpcw_array_begin(w);
        for (size_t i = 0; i < db_count(ctx->db, &mclass_session); i++) {
                const struct api_session *s = db_row_at(ctx->db, &mclass_session, i)->rec;
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++) {
                        const struct api_session *o = db_row_at(ctx->db, &mclass_session, j)->rec;
                        seen = strcmp(o->auth_user_sid, s->auth_user_sid) == 0;
                }
                if (!seen && s->auth_user_sid[0] != '\0')
                        rpcw_string(w, s->auth_user_sid);
        }
        rpcw_array_end(w);
        return 0;
}

int sessions_expire(struct xapi *x, time_t now)
{
        int gone = 0;
        for (size_t i = db_count(x->db, &mclass_session); i-- > 0;) {
                struct db_row *row = db_row_at(x->db, &mclass_session, i);
                const struct api_session *s = row->rec;
                if (s->last_active + SESSION_IDLE_SECONDS < now) {
                        db_delete(x->db, row);
                        gone++;
                }
        }
        if (gone > 0)
                log_info("%d idle session(s) expired", gone);
        return gone;
}

static void expiry_cb(evutil_socket_t fd, short what, void *arg)
{
        sessions_expire(arg, time(NULL));
}

int sessions_init(struct xapi *x)
{
        struct sessions *s = calloc(1, sizeof(*s));
        if (s == NULL)
                return -ENOMEM;
        s->expiry = event_new(x->base, -1, EV_PERSIST, expiry_cb, x);
        struct timeval minute = {60, 0};
        if (s->expiry == NULL || event_add(s->expiry, &minute) < 0) {
                if (s->expiry != NULL)
                        event_free(s->expiry);
                free(s);
                return -ENOMEM;
        }
        x->sessions = s;
        return 0;
}

void sessions_free(struct xapi *x)
{
        if (x->sessions == NULL)
                return;
        event_free(x->sessions->expiry);
        free(x->sessions);
        x->sessions = NULL;
}
