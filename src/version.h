/* The release version, shown by --version and recorded by nodes. */
#ifndef CN_VERSION_H
#define CN_VERSION_H

#define CN_VERSION "0.1.0"

#endif
