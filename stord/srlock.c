/* Per-SR locks (see srlock.h): a short list under one mutex; SRs are few. */
#include "stord/srlock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/uuid.h"

struct sd_srlock {
        char uuid[UUID_STR_LEN];
        pthread_mutex_t mu;
        struct sd_srlock *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sd_srlock *registry;

struct sd_srlock *sd_srlock_for(const char *uuid)
{
        pthread_mutex_lock(&registry_mu);
        struct sd_srlock *l;
        for (l = registry; l != NULL; l = l->next)
                if (strcmp(l->uuid, uuid) == 0)
                        break;
        if (l == NULL && (l = calloc(1, sizeof(*l))) != NULL) {
                pthread_mutexattr_t a;
                pthread_mutexattr_init(&a);
                pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
                pthread_mutex_init(&l->mu, &a);
                pthread_mutexattr_destroy(&a);
                strncpy(l->uuid, uuid, sizeof(l->uuid) - 1);
                l->next = registry;
                registry = l;
        }
        pthread_mutex_unlock(&registry_mu);
        return l;
}

void sd_srlock_take(struct sd_srlock *l)
{
        if (l != NULL)
                pthread_mutex_lock(&l->mu);
}

void sd_srlock_release(struct sd_srlock *l)
{
        if (l != NULL)
                pthread_mutex_unlock(&l->mu);
}
