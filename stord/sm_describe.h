/* How stord tells xapid about its SR drivers: one JSON text per driver, announced in the
 * Hello state as "sm/<type>" and turned into SM records by xapid (xapid/sm.c). */
#ifndef TS_STORD_SM_DESCRIBE_H
#define TS_STORD_SM_DESCRIBE_H

struct sd_driver;

/* {"description": …, "capabilities": [...], "configuration": {key: description}}; caller
 * frees.  NULL on ENOMEM. */
char *sd_driver_describe_json(const struct sd_driver *d);

#endif
