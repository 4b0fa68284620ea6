/* CArchive: the C headers Swift imports for libarchive. */
#pragma once
#include <archive.h>
#include <archive_entry.h>
// AE_IFREG and friends are cast macros that Swift does not import.
static const unsigned int flow_AE_IFREG = 0100000;
static const unsigned int flow_AE_IFDIR = 0040000;
