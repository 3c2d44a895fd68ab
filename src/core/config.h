/* SPDX-License-Identifier: PostgreSQL */
/* Builds the configuration: defaults < config file < environment < command line. */
#ifndef CN_CONFIG_H
#define CN_CONFIG_H

#include <stddef.h>

#include "cli.h"
#include "settings.h"

#define CONFIG_SECTION "clustered_nodes"
/* Read when neither --config nor CLUSTERED_NODES_CONFIG names a file, if it exists: the
 * package's (the systemd unit names it too). */
#define CONFIG_DEFAULT_PATH "/etc/clustered_nodes/clustered_nodes.conf"

/*
 * Fills c (which the caller frees with config_free) from, in rising
 * precedence, the defaults, the ini file named by --config or
 * CLUSTERED_NODES_CONFIG, CLUSTERED_NODES_<KEY> variables, and the command
 * line.  Returns 0; EX_CONFIG for a bad file or environment value (err names
 * the file and line, or the variable); EX_USAGE for a bad command-line value.
 */
int config_load(struct config *c, const struct cli *a, char *err, size_t errlen);

/* Every setting at its default; the node name defaults to the short host name. */
bool config_init(struct config *c);
void config_free(struct config *c);

#endif
