/* SPDX-License-Identifier: GPL-2.0 */
/* One function per vhmctl command, each in its own cmd-<name>.c. */
#ifndef VHMCTL_H
#define VHMCTL_H

int cmd_info(int argc, char **argv);
int cmd_msrs(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif /* VHMCTL_H */
