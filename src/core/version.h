/* SPDX-License-Identifier: PostgreSQL */
/* The release version, shown by --version and recorded by nodes. */
#ifndef CN_VERSION_H
#define CN_VERSION_H

#define CN_VERSION "0.2.0"

#endif
