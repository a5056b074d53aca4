/* SPDX-License-Identifier: MIT */
/*
 * The project's version, written here and nowhere else: every program's
 * --version prints it, the Makefile reads it for libargo.pc and the shared
 * library's file name, and tests/ops/ checks debian/changelog and NEWS
 * against it.
 */
#ifndef ARGO_VERSION_H
#define ARGO_VERSION_H

#define ARGO_VERSION_MAJOR 0
#define ARGO_VERSION_MINOR 1
#define ARGO_VERSION_PATCH 0
#define ARGO_VERSION       "0.1.0"

/* The name the programs give in --version: "argo-echo (argo-relay) 0.1.0". */
#define ARGO_PACKAGE "argo-relay"

#endif /* ARGO_VERSION_H */
