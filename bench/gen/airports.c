/*
 * bench/gen/airports.c: the built-in airport table, great-circle distances and time-zone offsets.
 *
 * The table lists major airports with their IATA code, city, country (ISO 3166 alpha-2), position,
 * IANA time zone and a rough size (annual passengers, millions, order of magnitude only: it weighs
 * the gravity model, nothing else). Coordinates and time zones follow public references such as
 * OpenFlights (https://openflights.org/data, Open Database License) and the IANA tz database.
 * Zones with :30 and :45 offsets (DEL, BOM, KTM, ADL, YYT, IKA, RGN) and airports across the date
 * line (AKL, HNL, PPT, NAN) are there on purpose: they are where time arithmetic breaks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/gen/gen.h"

static const gen_airport_t builtin[] = {
    /* Brazil */
    {"GRU", "Sao Paulo", "BR", -23.4356, -46.4731, "America/Sao_Paulo", 43, 0},
    {"CGH", "Sao Paulo", "BR", -23.6261, -46.6564, "America/Sao_Paulo", 22, 0},
    {"VCP", "Campinas", "BR", -23.0074, -47.1345, "America/Sao_Paulo", 10, 0},
    {"GIG", "Rio de Janeiro", "BR", -22.8100, -43.2506, "America/Sao_Paulo", 17, 0},
    {"SDU", "Rio de Janeiro", "BR", -22.9105, -43.1631, "America/Sao_Paulo", 9, 0},
    {"BSB", "Brasilia", "BR", -15.8711, -47.9186, "America/Sao_Paulo", 15, 0},
    {"CNF", "Belo Horizonte", "BR", -19.6244, -43.9719, "America/Sao_Paulo", 11, 0},
    {"SSA", "Salvador", "BR", -12.9086, -38.3225, "America/Bahia", 8, 0},
    {"REC", "Recife", "BR", -8.1265, -34.9236, "America/Recife", 9, 0},
    {"FOR", "Fortaleza", "BR", -3.7763, -38.5326, "America/Fortaleza", 6, 0},
    {"NAT", "Natal", "BR", -5.7681, -35.3761, "America/Fortaleza", 2.5, 0},
    {"MCZ", "Maceio", "BR", -9.5108, -35.7917, "America/Maceio", 2.3, 0},
    {"POA", "Porto Alegre", "BR", -29.9944, -51.1714, "America/Sao_Paulo", 7, 0},
    {"CWB", "Curitiba", "BR", -25.5285, -49.1758, "America/Sao_Paulo", 6, 0},
    {"FLN", "Florianopolis", "BR", -27.6703, -48.5525, "America/Sao_Paulo", 4, 0},
    {"IGU", "Foz do Iguacu", "BR", -25.6003, -54.4850, "America/Sao_Paulo", 2, 0},
    {"GYN", "Goiania", "BR", -16.6320, -49.2207, "America/Sao_Paulo", 3, 0},
    {"VIX", "Vitoria", "BR", -20.2581, -40.2864, "America/Sao_Paulo", 3, 0},
    {"BEL", "Belem", "BR", -1.3793, -48.4763, "America/Belem", 4, 0},
    {"MAO", "Manaus", "BR", -3.0386, -60.0497, "America/Manaus", 3, 0},
    /* South and Central America, Mexico, Caribbean */
    {"EZE", "Buenos Aires", "AR", -34.8222, -58.5358, "America/Argentina/Buenos_Aires", 10, 0},
    {"AEP", "Buenos Aires", "AR", -34.5592, -58.4156, "America/Argentina/Buenos_Aires", 14, 0},
    {"COR", "Cordoba", "AR", -31.3236, -64.2080, "America/Argentina/Cordoba", 3, 0},
    {"SCL", "Santiago", "CL", -33.3930, -70.7858, "America/Santiago", 25, 0},
    {"LIM", "Lima", "PE", -12.0219, -77.1143, "America/Lima", 24, 0},
    {"BOG", "Bogota", "CO", 4.7016, -74.1469, "America/Bogota", 35, 0},
    {"MDE", "Medellin", "CO", 6.1645, -75.4231, "America/Bogota", 11, 0},
    {"CTG", "Cartagena", "CO", 10.4424, -75.5130, "America/Bogota", 7, 0},
    {"UIO", "Quito", "EC", -0.1292, -78.3575, "America/Guayaquil", 5, 0},
    {"GYE", "Guayaquil", "EC", -2.1574, -79.8836, "America/Guayaquil", 4, 0},
    {"MVD", "Montevideo", "UY", -34.8384, -56.0308, "America/Montevideo", 2, 0},
    {"ASU", "Asuncion", "PY", -25.2400, -57.5192, "America/Asuncion", 1.5, 0},
    {"VVI", "Santa Cruz", "BO", -17.6448, -63.1354, "America/La_Paz", 2, 0},
    {"CCS", "Caracas", "VE", 10.6012, -66.9913, "America/Caracas", 3, 0},
    {"PTY", "Panama City", "PA", 9.0714, -79.3835, "America/Panama", 17, 0},
    {"SJO", "San Jose", "CR", 9.9939, -84.2088, "America/Costa_Rica", 5, 0},
    {"SAL", "San Salvador", "SV", 13.4409, -89.0557, "America/El_Salvador", 3, 0},
    {"MEX", "Mexico City", "MX", 19.4363, -99.0721, "America/Mexico_City", 48, 0},
    {"CUN", "Cancun", "MX", 21.0365, -86.8771, "America/Cancun", 30, 0},
    {"GDL", "Guadalajara", "MX", 20.5218, -103.3112, "America/Mexico_City", 16, 0},
    {"MTY", "Monterrey", "MX", 25.7785, -100.1069, "America/Monterrey", 12, 0},
    {"SJU", "San Juan", "PR", 18.4394, -66.0018, "America/Puerto_Rico", 12, 0},
    {"PUJ", "Punta Cana", "DO", 18.5674, -68.3634, "America/Santo_Domingo", 9, 0},
    {"HAV", "Havana", "CU", 22.9892, -82.4091, "America/Havana", 4, 0},
    {"MBJ", "Montego Bay", "JM", 18.5037, -77.9134, "America/Jamaica", 4, 0},
    {"AUA", "Oranjestad", "AW", 12.5014, -70.0152, "America/Aruba", 3, 0},
    /* United States */
    {"ATL", "Atlanta", "US", 33.6407, -84.4277, "America/New_York", 104, 0},
    {"JFK", "New York", "US", 40.6413, -73.7781, "America/New_York", 62, 0},
    {"EWR", "Newark", "US", 40.6895, -74.1745, "America/New_York", 49, 0},
    {"LGA", "New York", "US", 40.7769, -73.8740, "America/New_York", 33, 0},
    {"BOS", "Boston", "US", 42.3656, -71.0096, "America/New_York", 40, 0},
    {"PHL", "Philadelphia", "US", 39.8744, -75.2424, "America/New_York", 30, 0},
    {"IAD", "Washington", "US", 38.9531, -77.4565, "America/New_York", 25, 0},
    {"DCA", "Washington", "US", 38.8512, -77.0402, "America/New_York", 25, 0},
    {"CLT", "Charlotte", "US", 35.2140, -80.9431, "America/New_York", 53, 0},
    {"MIA", "Miami", "US", 25.7959, -80.2870, "America/New_York", 52, 0},
    {"FLL", "Fort Lauderdale", "US", 26.0742, -80.1506, "America/New_York", 35, 0},
    {"MCO", "Orlando", "US", 28.4312, -81.3081, "America/New_York", 57, 0},
    {"TPA", "Tampa", "US", 27.9755, -82.5332, "America/New_York", 24, 0},
    {"DTW", "Detroit", "US", 42.2162, -83.3554, "America/Detroit", 32, 0},
    {"ORD", "Chicago", "US", 41.9742, -87.9073, "America/Chicago", 73, 0},
    {"MDW", "Chicago", "US", 41.7868, -87.7522, "America/Chicago", 22, 0},
    {"MSP", "Minneapolis", "US", 44.8848, -93.2223, "America/Chicago", 35, 0},
    {"DFW", "Dallas", "US", 32.8998, -97.0403, "America/Chicago", 81, 0},
    {"IAH", "Houston", "US", 29.9902, -95.3368, "America/Chicago", 46, 0},
    {"AUS", "Austin", "US", 30.1975, -97.6664, "America/Chicago", 22, 0},
    {"DEN", "Denver", "US", 39.8561, -104.6737, "America/Denver", 78, 0},
    {"SLC", "Salt Lake City", "US", 40.7899, -111.9791, "America/Denver", 26, 0},
    {"PHX", "Phoenix", "US", 33.4342, -112.0116, "America/Phoenix", 48, 0},
    {"LAS", "Las Vegas", "US", 36.0840, -115.1537, "America/Los_Angeles", 57, 0},
    {"LAX", "Los Angeles", "US", 33.9416, -118.4085, "America/Los_Angeles", 75, 0},
    {"SAN", "San Diego", "US", 32.7338, -117.1933, "America/Los_Angeles", 25, 0},
    {"SFO", "San Francisco", "US", 37.6213, -122.3790, "America/Los_Angeles", 50, 0},
    {"SEA", "Seattle", "US", 47.4502, -122.3088, "America/Los_Angeles", 50, 0},
    {"ANC", "Anchorage", "US", 61.1743, -149.9963, "America/Anchorage", 5, 0},
    {"HNL", "Honolulu", "US", 21.3187, -157.9225, "Pacific/Honolulu", 21, 0},
    /* Canada */
    {"YYZ", "Toronto", "CA", 43.6777, -79.6248, "America/Toronto", 45, 0},
    {"YUL", "Montreal", "CA", 45.4706, -73.7408, "America/Toronto", 21, 0},
    {"YOW", "Ottawa", "CA", 45.3225, -75.6692, "America/Toronto", 5, 0},
    {"YVR", "Vancouver", "CA", 49.1967, -123.1815, "America/Vancouver", 26, 0},
    {"YYC", "Calgary", "CA", 51.1215, -114.0076, "America/Edmonton", 18, 0},
    {"YHZ", "Halifax", "CA", 44.8808, -63.5086, "America/Halifax", 4, 0},
    {"YYT", "St. John's", "CA", 47.6186, -52.7519, "America/St_Johns", 1.5, 0},
    /* Europe */
    {"LHR", "London", "GB", 51.4700, -0.4543, "Europe/London", 79, 0},
    {"LGW", "London", "GB", 51.1537, -0.1821, "Europe/London", 46, 0},
    {"STN", "London", "GB", 51.8860, 0.2389, "Europe/London", 28, 0},
    {"LCY", "London", "GB", 51.5048, 0.0495, "Europe/London", 5, 0},
    {"MAN", "Manchester", "GB", 53.3537, -2.2750, "Europe/London", 28, 0},
    {"EDI", "Edinburgh", "GB", 55.9508, -3.3615, "Europe/London", 14, 0},
    {"DUB", "Dublin", "IE", 53.4264, -6.2499, "Europe/Dublin", 33, 0},
    {"KEF", "Reykjavik", "IS", 63.9850, -22.6056, "Atlantic/Reykjavik", 7, 0},
    {"CDG", "Paris", "FR", 49.0097, 2.5479, "Europe/Paris", 67, 0},
    {"ORY", "Paris", "FR", 48.7262, 2.3652, "Europe/Paris", 33, 0},
    {"NCE", "Nice", "FR", 43.6584, 7.2159, "Europe/Paris", 14, 0},
    {"LYS", "Lyon", "FR", 45.7256, 5.0811, "Europe/Paris", 10, 0},
    {"AMS", "Amsterdam", "NL", 52.3105, 4.7683, "Europe/Amsterdam", 61, 0},
    {"BRU", "Brussels", "BE", 50.9014, 4.4844, "Europe/Brussels", 22, 0},
    {"FRA", "Frankfurt", "DE", 50.0379, 8.5622, "Europe/Berlin", 60, 0},
    {"MUC", "Munich", "DE", 48.3537, 11.7750, "Europe/Berlin", 41, 0},
    {"BER", "Berlin", "DE", 52.3667, 13.5033, "Europe/Berlin", 23, 0},
    {"DUS", "Dusseldorf", "DE", 51.2895, 6.7668, "Europe/Berlin", 19, 0},
    {"HAM", "Hamburg", "DE", 53.6304, 9.9882, "Europe/Berlin", 14, 0},
    {"ZRH", "Zurich", "CH", 47.4582, 8.5555, "Europe/Zurich", 29, 0},
    {"GVA", "Geneva", "CH", 46.2381, 6.1089, "Europe/Zurich", 17, 0},
    {"VIE", "Vienna", "AT", 48.1103, 16.5697, "Europe/Vienna", 29, 0},
    {"MAD", "Madrid", "ES", 40.4983, -3.5676, "Europe/Madrid", 60, 0},
    {"BCN", "Barcelona", "ES", 41.2974, 2.0833, "Europe/Madrid", 50, 0},
    {"PMI", "Palma de Mallorca", "ES", 39.5517, 2.7388, "Europe/Madrid", 31, 0},
    {"AGP", "Malaga", "ES", 36.6749, -4.4991, "Europe/Madrid", 22, 0},
    {"LIS", "Lisbon", "PT", 38.7742, -9.1342, "Europe/Lisbon", 33, 0},
    {"OPO", "Porto", "PT", 41.2481, -8.6814, "Europe/Lisbon", 15, 0},
    {"FAO", "Faro", "PT", 37.0144, -7.9659, "Europe/Lisbon", 9, 0},
    {"FCO", "Rome", "IT", 41.8003, 12.2389, "Europe/Rome", 40, 0},
    {"MXP", "Milan", "IT", 45.6306, 8.7281, "Europe/Rome", 26, 0},
    {"LIN", "Milan", "IT", 45.4451, 9.2767, "Europe/Rome", 9, 0},
    {"VCE", "Venice", "IT", 45.5053, 12.3519, "Europe/Rome", 11, 0},
    {"NAP", "Naples", "IT", 40.8860, 14.2908, "Europe/Rome", 11, 0},
    {"CPH", "Copenhagen", "DK", 55.6180, 12.6508, "Europe/Copenhagen", 26, 0},
    {"ARN", "Stockholm", "SE", 59.6498, 17.9238, "Europe/Stockholm", 23, 0},
    {"OSL", "Oslo", "NO", 60.1976, 11.1004, "Europe/Oslo", 25, 0},
    {"HEL", "Helsinki", "FI", 60.3172, 24.9633, "Europe/Helsinki", 15, 0},
    {"RIX", "Riga", "LV", 56.9236, 23.9711, "Europe/Riga", 7, 0},
    {"WAW", "Warsaw", "PL", 52.1657, 20.9671, "Europe/Warsaw", 18, 0},
    {"PRG", "Prague", "CZ", 50.1008, 14.2600, "Europe/Prague", 13, 0},
    {"BUD", "Budapest", "HU", 47.4298, 19.2611, "Europe/Budapest", 14, 0},
    {"OTP", "Bucharest", "RO", 44.5711, 26.0850, "Europe/Bucharest", 14, 0},
    {"ATH", "Athens", "GR", 37.9364, 23.9445, "Europe/Athens", 28, 0},
    {"IST", "Istanbul", "TR", 41.2753, 28.7519, "Europe/Istanbul", 76, 0},
    {"SAW", "Istanbul", "TR", 40.8986, 29.3092, "Europe/Istanbul", 41, 0},
    {"SVO", "Moscow", "RU", 55.9726, 37.4146, "Europe/Moscow", 40, 0},
    {"DME", "Moscow", "RU", 55.4088, 37.9063, "Europe/Moscow", 25, 0},
    {"LED", "Saint Petersburg", "RU", 59.8003, 30.2625, "Europe/Moscow", 20, 0},
    /* Middle East and Africa */
    {"DXB", "Dubai", "AE", 25.2532, 55.3657, "Asia/Dubai", 87, 0},
    {"AUH", "Abu Dhabi", "AE", 24.4330, 54.6511, "Asia/Dubai", 22, 0},
    {"DOH", "Doha", "QA", 25.2731, 51.6081, "Asia/Qatar", 45, 0},
    {"BAH", "Manama", "BH", 26.2708, 50.6336, "Asia/Bahrain", 9, 0},
    {"KWI", "Kuwait City", "KW", 29.2266, 47.9689, "Asia/Kuwait", 15, 0},
    {"MCT", "Muscat", "OM", 23.5933, 58.2844, "Asia/Muscat", 15, 0},
    {"RUH", "Riyadh", "SA", 24.9576, 46.6988, "Asia/Riyadh", 30, 0},
    {"JED", "Jeddah", "SA", 21.6796, 39.1565, "Asia/Riyadh", 40, 0},
    {"IKA", "Tehran", "IR", 35.4161, 51.1522, "Asia/Tehran", 8, 0},
    {"TLV", "Tel Aviv", "IL", 32.0114, 34.8867, "Asia/Jerusalem", 21, 0},
    {"AMM", "Amman", "JO", 31.7226, 35.9932, "Asia/Amman", 8, 0},
    {"CAI", "Cairo", "EG", 30.1219, 31.4056, "Africa/Cairo", 26, 0},
    {"CMN", "Casablanca", "MA", 33.3675, -7.5898, "Africa/Casablanca", 10, 0},
    {"ALG", "Algiers", "DZ", 36.6910, 3.2154, "Africa/Algiers", 8, 0},
    {"TUN", "Tunis", "TN", 36.8510, 10.2272, "Africa/Tunis", 5, 0},
    {"DSS", "Dakar", "SN", 14.6700, -17.0733, "Africa/Dakar", 2.5, 0},
    {"LOS", "Lagos", "NG", 6.5774, 3.3212, "Africa/Lagos", 8, 0},
    {"ACC", "Accra", "GH", 5.6052, -0.1668, "Africa/Accra", 3, 0},
    {"LAD", "Luanda", "AO", -8.8584, 13.2312, "Africa/Luanda", 2, 0},
    {"ADD", "Addis Ababa", "ET", 8.9779, 38.7993, "Africa/Addis_Ababa", 12, 0},
    {"NBO", "Nairobi", "KE", -1.3192, 36.9278, "Africa/Nairobi", 8, 0},
    {"JNB", "Johannesburg", "ZA", -26.1392, 28.2460, "Africa/Johannesburg", 21, 0},
    {"CPT", "Cape Town", "ZA", -33.9715, 18.6021, "Africa/Johannesburg", 10, 0},
    {"MRU", "Mauritius", "MU", -20.4302, 57.6836, "Indian/Mauritius", 4, 0},
    /* South Asia */
    {"DEL", "Delhi", "IN", 28.5562, 77.1000, "Asia/Kolkata", 72, 0},
    {"BOM", "Mumbai", "IN", 19.0896, 72.8656, "Asia/Kolkata", 52, 0},
    {"BLR", "Bangalore", "IN", 13.1986, 77.7066, "Asia/Kolkata", 37, 0},
    {"MAA", "Chennai", "IN", 12.9941, 80.1709, "Asia/Kolkata", 22, 0},
    {"KHI", "Karachi", "PK", 24.9065, 67.1608, "Asia/Karachi", 8, 0},
    {"KTM", "Kathmandu", "NP", 27.6966, 85.3591, "Asia/Kathmandu", 7, 0},
    {"CMB", "Colombo", "LK", 7.1808, 79.8841, "Asia/Colombo", 7, 0},
    {"DAC", "Dhaka", "BD", 23.8433, 90.3978, "Asia/Dhaka", 10, 0},
    /* East and Southeast Asia */
    {"HND", "Tokyo", "JP", 35.5494, 139.7798, "Asia/Tokyo", 85, 0},
    {"NRT", "Tokyo", "JP", 35.7720, 140.3929, "Asia/Tokyo", 33, 0},
    {"KIX", "Osaka", "JP", 34.4320, 135.2304, "Asia/Tokyo", 25, 0},
    {"ITM", "Osaka", "JP", 34.7855, 135.4382, "Asia/Tokyo", 15, 0},
    {"FUK", "Fukuoka", "JP", 33.5859, 130.4507, "Asia/Tokyo", 24, 0},
    {"CTS", "Sapporo", "JP", 42.7752, 141.6923, "Asia/Tokyo", 23, 0},
    {"OKA", "Okinawa", "JP", 26.1958, 127.6459, "Asia/Tokyo", 20, 0},
    {"ICN", "Seoul", "KR", 37.4602, 126.4407, "Asia/Seoul", 56, 0},
    {"GMP", "Seoul", "KR", 37.5583, 126.7906, "Asia/Seoul", 24, 0},
    {"CJU", "Jeju", "KR", 33.5104, 126.4914, "Asia/Seoul", 29, 0},
    {"PEK", "Beijing", "CN", 40.0799, 116.6031, "Asia/Shanghai", 50, 0},
    {"PKX", "Beijing", "CN", 39.5098, 116.4105, "Asia/Shanghai", 40, 0},
    {"PVG", "Shanghai", "CN", 31.1443, 121.8083, "Asia/Shanghai", 55, 0},
    {"SHA", "Shanghai", "CN", 31.1979, 121.3363, "Asia/Shanghai", 40, 0},
    {"CAN", "Guangzhou", "CN", 23.3924, 113.2988, "Asia/Shanghai", 63, 0},
    {"SZX", "Shenzhen", "CN", 22.6393, 113.8107, "Asia/Shanghai", 52, 0},
    {"CTU", "Chengdu", "CN", 30.5785, 103.9471, "Asia/Shanghai", 40, 0},
    {"CKG", "Chongqing", "CN", 29.7192, 106.6417, "Asia/Shanghai", 40, 0},
    {"XIY", "Xi'an", "CN", 34.4471, 108.7516, "Asia/Shanghai", 37, 0},
    {"KMG", "Kunming", "CN", 25.1019, 102.9292, "Asia/Shanghai", 40, 0},
    {"HKG", "Hong Kong", "HK", 22.3080, 113.9185, "Asia/Hong_Kong", 53, 0},
    {"MFM", "Macau", "MO", 22.1496, 113.5925, "Asia/Macau", 7, 0},
    {"TPE", "Taipei", "TW", 25.0797, 121.2342, "Asia/Taipei", 35, 0},
    {"MNL", "Manila", "PH", 14.5086, 121.0194, "Asia/Manila", 45, 0},
    {"BKK", "Bangkok", "TH", 13.6900, 100.7501, "Asia/Bangkok", 60, 0},
    {"DMK", "Bangkok", "TH", 13.9126, 100.6067, "Asia/Bangkok", 30, 0},
    {"HKT", "Phuket", "TH", 8.1132, 98.3169, "Asia/Bangkok", 12, 0},
    {"RGN", "Yangon", "MM", 16.9073, 96.1332, "Asia/Yangon", 6, 0},
    {"SGN", "Ho Chi Minh City", "VN", 10.8188, 106.6519, "Asia/Ho_Chi_Minh", 38, 0},
    {"HAN", "Hanoi", "VN", 21.2212, 105.8072, "Asia/Ho_Chi_Minh", 28, 0},
    {"KUL", "Kuala Lumpur", "MY", 2.7456, 101.7099, "Asia/Kuala_Lumpur", 47, 0},
    {"SIN", "Singapore", "SG", 1.3644, 103.9915, "Asia/Singapore", 59, 0},
    {"CGK", "Jakarta", "ID", -6.1256, 106.6559, "Asia/Jakarta", 54, 0},
    {"DPS", "Denpasar", "ID", -8.7482, 115.1671, "Asia/Makassar", 20, 0},
    /* Oceania */
    {"SYD", "Sydney", "AU", -33.9399, 151.1753, "Australia/Sydney", 44, 0},
    {"MEL", "Melbourne", "AU", -37.6690, 144.8410, "Australia/Melbourne", 37, 0},
    {"BNE", "Brisbane", "AU", -27.3842, 153.1175, "Australia/Brisbane", 24, 0},
    {"PER", "Perth", "AU", -31.9385, 115.9672, "Australia/Perth", 14, 0},
    {"ADL", "Adelaide", "AU", -34.9450, 138.5306, "Australia/Adelaide", 8, 0},
    {"DRW", "Darwin", "AU", -12.4147, 130.8770, "Australia/Darwin", 2, 0},
    {"AKL", "Auckland", "NZ", -37.0082, 174.7850, "Pacific/Auckland", 21, 0},
    {"WLG", "Wellington", "NZ", -41.3272, 174.8053, "Pacific/Auckland", 6, 0},
    {"CHC", "Christchurch", "NZ", -43.4894, 172.5320, "Pacific/Auckland", 6, 0},
    {"NAN", "Nadi", "FJ", -17.7554, 177.4431, "Pacific/Fiji", 2.5, 0},
    {"PPT", "Papeete", "PF", -17.5537, -149.6073, "Pacific/Tahiti", 1.5, 0},
};

int gen_world_builtin(gen_world_t *w)
{
    size_t n = sizeof(builtin) / sizeof(builtin[0]);

    memset(w, 0, sizeof(*w));
    w->airports = malloc(n * sizeof(*w->airports));
    if (w->airports == NULL)
        return FS_ENOMEM;
    memcpy(w->airports, builtin, sizeof(builtin));
    w->airport_count = n;
    return 0;
}

void gen_world_free(gen_world_t *w)
{
    free(w->airports);
    free(w->routes);
    free(w->owned);
    memset(w, 0, sizeof(*w));
}

double gen_distance_km(const gen_airport_t *a, const gen_airport_t *b)
{
    const double r = 6371.0, rad = M_PI / 180.0;
    double dlat = (b->lat - a->lat) * rad, dlon = (b->lon - a->lon) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) + cos(a->lat * rad) * cos(b->lat * rad) * sin(dlon / 2) * sin(dlon / 2);

    return 2 * r * asin(sqrt(h < 1 ? h : 1));
}

/* ------------------------------------------------------------- time zones */

#define ZONE_MAX_TRANSITIONS 16

typedef struct zone {
    const char *name;
    unsigned count;                        /* transitions */
    int64_t at[ZONE_MAX_TRANSITIONS];      /* UTC minute from which off[i + 1] applies */
    int16_t off[ZONE_MAX_TRANSITIONS + 1]; /* off[0] applies before at[0] */
} zone_t;

static zone_t *zones;
static size_t zone_count;

/* Offset in minutes of the current TZ at a UTC minute; INT32_MIN when it is not whole minutes. */
static int32_t tz_offset_now(int64_t utc_min)
{
    time_t t = (time_t)(utc_min * 60);
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL || tm.tm_gmtoff % 60 != 0)
        return INT32_MIN;
    return (int32_t)(tm.tm_gmtoff / 60);
}

/* A zone name we are willing to put into TZ: the tz database's shape, no path tricks. */
static int zone_name_ok(const char *name)
{
    if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' ||
              *p == '-' || *p == '+'))
            return 0;
    return 1;
}

/* glibc silently falls back to UTC for a zone it cannot find, so check the file exists first. */
static int zone_file_exists(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] != '\0' ? dir : "/usr/share/zoneinfo", name);
    return access(path, R_OK) == 0;
}

static int offset_ok(int32_t off)
{
    return off != INT32_MIN && off >= FS_MIN_OFFSET_MIN && off <= FS_MAX_OFFSET_MIN && off % 15 == 0;
}

/* Samples the zone once per UTC day and bisects each day whose offset changed down to the minute. */
static int zone_resolve(zone_t *z, int32_t first_day, int32_t last_day)
{
    int64_t lo_min = (int64_t)(first_day - 2) * 1440, hi_min = (int64_t)(last_day + 3) * 1440;
    int32_t prev = tz_offset_now(lo_min);

    z->count = 0;
    if (!offset_ok(prev))
        return -1;
    z->off[0] = (int16_t)prev;
    for (int64_t t = lo_min + 1440; t <= hi_min; t += 1440) {
        int32_t cur = tz_offset_now(t);
        if (!offset_ok(cur))
            return -1;
        if (cur == prev)
            continue;
        int64_t a = t - 1440, b = t; /* offset(a) == prev, offset(b) == cur */
        while (b - a > 1) {
            int64_t m = a + (b - a) / 2;
            if (tz_offset_now(m) == prev)
                a = m;
            else
                b = m;
        }
        if (z->count == ZONE_MAX_TRANSITIONS)
            return -1;
        z->at[z->count] = b;
        z->off[++z->count] = (int16_t)cur;
        prev = cur;
    }
    return 0;
}

int gen_zones_prepare(gen_world_t *w, int32_t first_day, int32_t last_day)
{
    const char *old = getenv("TZ");
    char *saved = old != NULL ? strdup(old) : NULL;
    size_t cap = 64;
    int err = 0;

    gen_zones_free();
    zones = malloc(cap * sizeof(*zones));
    if (zones == NULL || (old != NULL && saved == NULL)) {
        free(saved);
        return FS_ENOMEM;
    }
    /* Airports are few (thousands) and zones fewer (hundreds): a linear lookup of the name among
     * resolved zones costs less than tzset() on a zone already seen. */
    for (size_t i = 0; i < w->airport_count; i++) {
        gen_airport_t *a = &w->airports[i];
        size_t z;

        a->zone = -1;
        for (z = 0; z < zone_count; z++)
            if (strcmp(zones[z].name, a->tz) == 0)
                break;
        if (z < zone_count) {
            a->zone = zones[z].name != NULL && zones[z].count != UINT32_MAX ? (int)z : -1;
            continue;
        }
        if (zone_count == cap) {
            zone_t *nz = realloc(zones, 2 * cap * sizeof(*zones));
            if (nz == NULL) {
                err = FS_ENOMEM;
                break;
            }
            zones = nz;
            cap *= 2;
        }
        zone_t *zn = &zones[zone_count++];
        memset(zn, 0, sizeof(*zn));
        zn->name = a->tz;
        if (!zone_name_ok(a->tz) || !zone_file_exists(a->tz)) {
            zn->count = UINT32_MAX; /* remembered as unusable */
            continue;
        }
        setenv("TZ", a->tz, 1);
        tzset();
        if (zone_resolve(zn, first_day, last_day) != 0) {
            zn->count = UINT32_MAX;
            continue;
        }
        a->zone = (int)(zone_count - 1);
    }
    if (saved != NULL)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return err;
}

int gen_zone_offset_utc(int zone, int64_t utc_min)
{
    const zone_t *z = &zones[zone];
    unsigned i = 0;

    while (i < z->count && utc_min >= z->at[i])
        i++;
    return z->off[i];
}

int gen_zone_offset_local(int zone, int64_t local_min)
{
    /* Guess with the offset before any transition, then correct once: right except inside a
     * spring-forward gap, where either offset describes a time that does not exist anyway. */
    int o = gen_zone_offset_utc(zone, local_min - zones[zone].off[0]);

    return gen_zone_offset_utc(zone, local_min - o);
}

void gen_zones_free(void)
{
    free(zones);
    zones = NULL;
    zone_count = 0;
}
