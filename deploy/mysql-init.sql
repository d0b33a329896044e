-- vidmp3 development MySQL: run once, by the mysql image's entrypoint, on an empty data
-- volume (files in /docker-entrypoint-initdb.d/). DEVELOPMENT ONLY: the password below is
-- the project's published development default (auth/settings.py DEV_MYSQL_URL).
--
-- mysql_native_password (enabled by compose.yaml's --mysql-native-password=ON) because
-- the development URLs say ssl-mode=disabled: caching_sha2_password's first login on a
-- plain connection needs an RSA key exchange that mysql-connector-python does not do.

CREATE DATABASE IF NOT EXISTS vidmp3 CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS vidmp3_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE USER IF NOT EXISTS 'vidmp3'@'%' IDENTIFIED WITH mysql_native_password BY 'vidmp3-dev';
GRANT ALL PRIVILEGES ON vidmp3.* TO 'vidmp3'@'%';
GRANT ALL PRIVILEGES ON vidmp3_test.* TO 'vidmp3'@'%';
FLUSH PRIVILEGES;
