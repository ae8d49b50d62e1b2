/* The built-in VM templates every host offers (XAPI's default templates): created at first
 * start and recreated at a later start when missing.  A default template is marked
 * is_default_template and other_config:default_template=true; it describes its disks in
 * other_config:disks, which VM.provision reads (vm_disks.c). */
#ifndef TS_XAPID_TEMPLATES_H
#define TS_XAPID_TEMPLATES_H

struct xapi;

/* Creates the missing default templates.  Returns how many were created. */
int templates_ensure(struct xapi *x);

#endif
