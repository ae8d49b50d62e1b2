/* Paced starting of domds (see domd_launch.h). */
#include "xapid/domd_launch.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/uuid.h"
#include "xapid/domd_spawn.h"

LOG_MODULE(domd_launch)

struct waiter {
        struct waiter *next;
        char uuid[UUID_STR_LEN];
};

struct slot {
        struct domd_launcher *l;
        bool used;
        char uuid[UUID_STR_LEN];
        struct event *timer; /* SETTLE_MS after the start: the slot is released anyway */
};

struct domd_launcher {
        struct domd_spawner *spawner;
        struct domd_launch_hooks hooks;
        unsigned settle_ms;
        struct slot *slots;
        unsigned n_slots;
        struct waiter *head, **tail; /* oldest first */
        unsigned n_queued;
};

static void launch_next(struct domd_launcher *l);

static void slot_release(struct slot *s)
{
        s->used = false;
        event_del(s->timer);
}

static void on_settle_timeout(evutil_socket_t fd, short what, void *arg)
{
        struct slot *s = arg;
        log_debug("domd of vm %s: no Hello within %ums; its slot is released", s->uuid,
                  s->l->settle_ms);
        slot_release(s);
        launch_next(s->l);
}

static struct slot *free_slot(struct domd_launcher *l)
{
        for (unsigned i = 0; i < l->n_slots; i++)
                if (!l->slots[i].used)
                        return &l->slots[i];
        return NULL;
}

/* Starts UUID's domd in slot S. */
static int start(struct domd_launcher *l, struct slot *s, const char *uuid)
{
        int r = domd_spawn(l->spawner, uuid);
        if (r < 0)
                return r;
        s->used = true;
        snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
        struct timeval tv = {l->settle_ms / 1000, (l->settle_ms % 1000) * 1000};
        evtimer_add(s->timer, &tv);
        return 0;
}

static void launch_next(struct domd_launcher *l)
{
        struct slot *s;
        while (l->head != NULL && (s = free_slot(l)) != NULL) {
                struct waiter *w = l->head;
                l->head = w->next;
                if (l->head == NULL)
                        l->tail = &l->head;
                l->n_queued--;
                bool wanted = l->hooks.wanted == NULL || l->hooks.wanted(l->hooks.arg, w->uuid);
                if (wanted && !domd_spawn_running(l->spawner, w->uuid)) {
                        int r = start(l, s, w->uuid);
                        if (r < 0)
                                log_warnx("vm %s: cannot start its domd: %s", w->uuid,
                                          strerror(-r));
                        else if (l->hooks.started != NULL)
                                l->hooks.started(l->hooks.arg, w->uuid);
                }
                free(w);
        }
}

int domd_launcher_new(struct event_base *base, struct domd_spawner *spawner, unsigned max,
                      unsigned settle_ms, const struct domd_launch_hooks *hooks,
                      struct domd_launcher **out)
{
        struct domd_launcher *l = calloc(1, sizeof(*l));
        if (l == NULL)
                return -ENOMEM;
        l->spawner = spawner;
        l->hooks = *hooks;
        l->settle_ms = settle_ms;
        l->n_slots = max > 0 ? max : 1;
        l->tail = &l->head;
        l->slots = calloc(l->n_slots, sizeof(*l->slots));
        if (l->slots == NULL) {
                free(l);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < l->n_slots; i++) {
                l->slots[i].l = l;
                l->slots[i].timer = evtimer_new(base, on_settle_timeout, &l->slots[i]);
                if (l->slots[i].timer == NULL) {
                        domd_launcher_free(l);
                        return -ENOMEM;
                }
        }
        *out = l;
        return 0;
}

void domd_launcher_free(struct domd_launcher *l)
{
        if (l == NULL)
                return;
        for (unsigned i = 0; i < l->n_slots; i++)
                if (l->slots[i].timer != NULL)
                        event_free(l->slots[i].timer);
        free(l->slots);
        while (l->head != NULL) {
                struct waiter *w = l->head;
                l->head = w->next;
                free(w);
        }
        free(l);
}

bool domd_launch_queued(struct domd_launcher *l, const char *uuid)
{
        for (struct waiter *w = l->head; w != NULL; w = w->next)
                if (strcmp(w->uuid, uuid) == 0)
                        return true;
        return false;
}

int domd_launch(struct domd_launcher *l, const char *uuid)
{
        if (domd_spawn_running(l->spawner, uuid))
                return 0; /* started already; it is on its way */
        if (domd_launch_queued(l, uuid))
                return 1;
        struct slot *s = l->head == NULL ? free_slot(l) : NULL;
        if (s != NULL)
                return start(l, s, uuid);
        struct waiter *w = calloc(1, sizeof(*w));
        if (w == NULL)
                return -ENOMEM;
        snprintf(w->uuid, sizeof(w->uuid), "%s", uuid);
        *l->tail = w;
        l->tail = &w->next;
        if (++l->n_queued % 100 == 0)
                log_info("%u domds waiting to start", l->n_queued);
        return 1;
}

void domd_launch_settled(struct domd_launcher *l, const char *uuid)
{
        for (unsigned i = 0; i < l->n_slots; i++)
                if (l->slots[i].used && strcmp(l->slots[i].uuid, uuid) == 0)
                        slot_release(&l->slots[i]);
        launch_next(l);
}
