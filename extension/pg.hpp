// The one door through which PostgreSQL's C headers enter C++ code.
//
// PostgreSQL headers carry no __cplusplus guards, so they must be wrapped in
// extern "C" here and nowhere else. Pure C++ files (anything that does not call
// into the server) must not include this header.
#pragma once

// The library is built with -fvisibility=hidden so that only what PostgreSQL
// must find is exported; PG15 defines PGDLLEXPORT empty on Linux (PG16 does
// this itself), so define it before c.h does.
#ifndef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#endif

extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/user.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "postmaster/postmaster.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/memutils.h"

// From libpq/scram.h, which cannot be included: through libpq/libpq-be.h it
// needs gssapi/gssapi.h (libkrb5-dev) on a server built with GSSAPI.
extern char *pg_be_scram_build_secret(const char *password);
}

// port.h redefines these as macros for the pg_* replacements; C++ code that
// wants the standard library versions must not see the macros.
#undef snprintf
#undef vsnprintf
#undef sprintf
#undef printf
#undef fprintf
#undef strerror
