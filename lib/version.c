// SPDX-License-Identifier: GPL-2.0
#include "bartoggle/version.h"

const char bt_version[] = BT_VERSION;
