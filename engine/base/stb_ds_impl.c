/* The single translation unit that instantiates stb_ds (Debian's libstb-dev
 * ships it header-only). */
#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"
