"""Word and sentence pools, one disjoint pool per split (``tune`` / ``heldout``), so that a rule
tuned on one split never saw the other's words, names or phrasings."""

from __future__ import annotations

EN_WORDS = {
    "tune": (
        "the of and to in is that for it as was with be by on not this are from at which have an "
        "they were there been one all their has would when if so no what invoice payment service "
        "order delivery account balance report quarter revenue market customer product energy "
        "system window garden river mountain letter school station family number public simple "
        "record weather morning evening yellow silver orange purple bridge castle engine planet "
        "Monday Tuesday March April London Paris Berlin Tokyo 2019 2024 45.10 17:30 #208"
    ).split(),
    "heldout": (
        "we our you your may can will should could about over under between through during "
        "before after against among within without statement shipment contract transfer notice "
        "budget profit volume harbour forest valley meadow village ticket library hospital "
        "museum kitchen window cabinet blanket lantern compass anchor velvet copper crimson "
        "scarlet indigo amber Friday Sunday October December Madrid Oslo Cairo Lima 1987 2031 "
        "88.25 09:45 No.7 A-113"
    ).split(),
}

ZH_TEXT = {
    "tune": (
        "这是一个用于测试的中文段落我们需要足够多的文字来填满页面识别系统应当正确读出所有内容"
        "包括数字和标点符号今天的天气很好适合出去散步公园里有很多人在锻炼身体孩子们在草地上玩耍"
    ),
    "heldout": (
        "研究表明城市交通拥堵的主要原因是私家车数量快速增长政府计划在未来五年内修建三条新的地铁"
        "线路同时鼓励市民乘坐公共交通工具出行图书馆每周开放六天周一闭馆读者可以在网上预约座位"
    ),
}

JA_TEXT = {
    "tune": (
        "東京は日本の首都で、多くの人が住んでいます。春になると桜が咲き、公園はお花見の人でいっぱい"
        "になります。電車はとても便利で、時間通りに来ます。"
    ),
    "heldout": (
        "この商品は来週の月曜日に発送される予定です。ご注文の内容をご確認のうえ、お支払いを完了して"
        "ください。お問い合わせはカスタマーセンターまでお願いします。"
    ),
}

KO_TEXT = {
    "tune": (
        "서울은 대한민국의 수도이며 많은 사람들이 살고 있습니다. 봄에는 꽃이 피고 공원에 사람들이 "
        "많이 모입니다. 지하철은 매우 편리합니다."
    ),
    "heldout": (
        "이 제품은 다음 주 월요일에 배송될 예정입니다. 주문 내용을 확인하신 후 결제를 완료해 주십시오. "
        "문의 사항은 고객 센터로 연락 바랍니다."
    ),
}

LATIN_TEXT = {
    "de": {
        "tune": "Der schnelle braune Fuchs springt über den faulen Hund. Die Straße ist nass, "
        "weil es gestern geregnet hat. Wir öffnen um neun Uhr.",
        "heldout": "Bitte überweisen Sie den Betrag innerhalb von vierzehn Tagen. Für Rückfragen "
        "stehen wir Ihnen gerne zur Verfügung. Größe und Gewicht sind angegeben.",
    },
    "pt": {
        "tune": "A raposa marrom rápida salta sobre o cão preguiçoso. A reunião começará às "
        "três horas na sala de conferências.",
        "heldout": "As inscrições estão abertas até o final do mês. Não se esqueça de trazer o "
        "documento de identificação e a confirmação do pagamento.",
    },
    "fr": {
        "tune": "Le renard brun rapide saute par-dessus le chien paresseux. La bibliothèque "
        "est fermée le dimanche et les jours fériés.",
        "heldout": "Veuillez trouver ci-joint la facture correspondant à votre commande. Le "
        "règlement est attendu sous trente jours à réception.",
    },
    "es": {
        "tune": "El zorro marrón rápido salta sobre el perro perezoso. Mañana iremos al "
        "mercado para comprar frutas y verduras.",
        "heldout": "La exposición permanecerá abierta hasta el próximo otoño. Los niños menores "
        "de doce años pueden entrar gratis con un adulto.",
    },
    "vi": {
        "tune": "Hôm nay trời đẹp, chúng tôi đi dạo trong công viên. Thành phố có nhiều "
        "cây xanh và hồ nước.",
        "heldout": "Vui lòng thanh toán hóa đơn trước ngày mười lăm. Mọi thắc mắc xin liên hệ "
        "bộ phận chăm sóc khách hàng.",
    },
    "ru": {
        "tune": "Быстрая коричневая лиса прыгает через ленивую собаку. Музей открыт каждый "
        "день кроме понедельника.",
        "heldout": "Пожалуйста, оплатите счёт в течение десяти дней. По всем вопросам "
        "обращайтесь в службу поддержки клиентов.",
    },
}

# receipts: company names (+ legal suffixes), streets, cities, item names, total labels
COMPANIES = {
    "tune": [
        ("GOLDEN LEAF TRADING", "SDN BHD"), ("MAJU JAYA HARDWARE", "SDN BHD"),
        ("SUNRISE BAKERY", "ENTERPRISE"), ("PRIMA MART", "SDN. BHD."),
        ("NORTHWIND STATIONERY", "LTD"), ("BLUE OCEAN RESTAURANT", "S/B"),
        ("HAPPY FAMILY MINIMARKET", "SDN BHD"), ("ORCHID PHARMACY", "PLT"),
    ],
    "heldout": [
        ("KEDAI RUNCIT SERI INDAH", "SDN BHD"), ("EVERGREEN OFFICE SUPPLIES", "PTE LTD"),
        ("LUCKY STAR CAFE", "ENTERPRISE"), ("TITAN AUTO PARTS", "SDN. BHD."),
        ("RIVERSIDE BOOKSTORE", "CO., LTD."), ("PELANGI TEXTILE", "S/B"),
        ("CRESCENT MOON NOODLE HOUSE", "SDN BHD"), ("APEX ELECTRICAL", "TRADING"),
    ],
}
STREETS = {
    "tune": ["JALAN BUNGA RAYA", "JLN PERDANA 3", "LORONG MAWAR 2", "JALAN SS 2/24",
             "TAMAN MELATI", "JALAN KENANGA 5"],
    "heldout": ["JALAN TUN RAZAK", "JLN SETIA 7/1", "LRG DELIMA 4", "PERSIARAN GURNEY",
                "TAMAN SRI MUDA", "JALAN MERANTI 12"],
}
CITIES = {
    "tune": [("47300", "PETALING JAYA", "SELANGOR"), ("81300", "SKUDAI", "JOHOR"),
             ("50450", "KUALA LUMPUR", ""), ("14000", "BUKIT MERTAJAM", "PULAU PINANG")],
    "heldout": [("40150", "SHAH ALAM", "SELANGOR"), ("31400", "IPOH", "PERAK"),
                ("88000", "KOTA KINABALU", "SABAH"), ("10200", "GEORGETOWN", "PENANG")],
}
ITEMS = {
    "tune": ["MINERAL WATER 500ML", "WHITE BREAD", "A4 PAPER 80G", "BALL PEN BLUE", "FRIED RICE",
             "ICED TEA", "PANADOL 10S", "SCREW 2IN", "COFFEE O", "CHICKEN WING", "GLUE STICK"],
    "heldout": ["NASI LEMAK", "TEH TARIK", "STAPLER NO.10", "LED BULB 9W", "CABLE TIE 8IN",
                "ROTI CANAI", "VITAMIN C 500MG", "HAND SOAP", "NOTEBOOK B5", "MILO ICE"],
}
TOTAL_LABELS = {
    "tune": ["TOTAL", "GRAND TOTAL", "TOTAL (RM)", "NETT TOTAL", "TOTAL INCL. GST"],
    "heldout": ["TOTAL AMOUNT", "AMOUNT DUE", "TOTAL PAYABLE", "TOTAL RM", "NET TOTAL"],
}
