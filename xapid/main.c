/* xapid */
#include "common/log.h"
LOG_MODULE(main)
int main(void)
{
        log_init("xapid");
        return 0;
}
