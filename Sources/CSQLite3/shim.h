/* CSQLite3: the C headers Swift imports for libsqlite3. */
#pragma once
#include <sqlite3.h>
